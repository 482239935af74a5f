package models

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswords is a list of the most used passwords (lower case), refused at registration.
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
