package models

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswords is a list of the most used passwords (lower case), refused at registration: the
// 30,000 entries of the "passwords" frequency list of zxcvbn 4.4.2 (npm package zxcvbn, MIT licence,
// Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.; from Xato's 10 million passwords), most
// common first, followed by a few of our own (seasons, the product's name).
//
//go:embed common-passwords.txt
var commonPasswords string

var commonSet = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{})
	for _, line := range strings.Split(commonPasswords, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			set[line] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether the lower-cased password is on the common list.
func IsCommonPassword(lower string) bool {
	_, ok := commonSet()[lower]
	return ok
}
