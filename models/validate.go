package models

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits of what people may type.
const (
	UsernameMinLen = 3
	UsernameMaxLen = 32
	NameMaxLen     = 64
	PasswordMinLen = 8
	PasswordMaxLen = 128
	BodyMaxLen     = 4000 // characters, not bytes
	ClientIDMaxLen = 64
)

// FieldErrors maps a form field to what is wrong with it, in words a person understands.
type FieldErrors map[string]string

// Any reports whether there is at least one error.
func (e FieldErrors) Any() bool { return len(e) > 0 }

var folder = cases.Fold()

// UsernameKey is the form of a username that uniqueness and look-ups compare: NFKC (so full-width and
// compatibility forms collapse) and then case folding.
func UsernameKey(username string) string {
	return norm.NFKC.String(folder.String(norm.NFKC.String(username)))
}

// NormalizeUsername checks a username as typed and returns its stored form (NFKC) or a reason.
// Letters and digits of any script are allowed, plus '.', '_' and '-'; control, format (zero-width,
// bidi) and every other character are refused so that two names cannot look alike by trickery.
func NormalizeUsername(raw string) (string, string) {
	if !utf8.ValidString(raw) {
		return "", "Username contains invalid characters."
	}
	name := norm.NFKC.String(strings.TrimSpace(raw))
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "", "Choose a username."
	case n < UsernameMinLen:
		return "", "Username must be at least 3 characters."
	case n > UsernameMaxLen:
		return "", "Username must be at most 32 characters."
	}
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-' {
			continue
		}
		return "", "Username may contain only letters, digits, dots, dashes and underscores."
	}
	return name, ""
}

// CleanName checks a first or last name: printable text up to NameMaxLen characters.
func CleanName(raw, label string, required bool) (string, string) {
	if !utf8.ValidString(raw) {
		return "", label + " contains invalid characters."
	}
	name := strings.TrimSpace(norm.NFC.String(raw))
	if name == "" {
		if required {
			return "", "Enter your " + strings.ToLower(label) + "."
		}
		return "", ""
	}
	if utf8.RuneCountInString(name) > NameMaxLen {
		return "", label + " must be at most 64 characters."
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) {
			return "", label + " contains characters that cannot be shown."
		}
	}
	return name, ""
}

// Profile is what people say about themselves: their names and gender.
type Profile struct {
	FirstName string
	LastName  string
	Gender    Gender
}

// CheckProfile checks names and gender as the registration and settings forms send them (gender ""
// means unspecified). Each bad field gets its message in errs; its value in the result is then empty.
func CheckProfile(first, last, gender string, errs FieldErrors) Profile {
	var p Profile
	var msg string
	if p.FirstName, msg = CleanName(first, "First name", true); msg != "" {
		errs.Set("first_name", msg)
	}
	if p.LastName, msg = CleanName(last, "Last name", false); msg != "" {
		errs.Set("last_name", msg)
	}
	g, err := strconv.ParseInt(gender, 10, 16)
	if gender == "" {
		g, err = 0, nil
	}
	if err != nil || !Gender(g).Valid() {
		errs.Set("gender", "Choose one of the listed options.")
	} else {
		p.Gender = Gender(g)
	}
	return p
}

// CheckPassword applies the password rules: length only (no composition rules) and not one of the
// most common passwords.
func CheckPassword(password, username string) string {
	if !utf8.ValidString(password) || strings.ContainsRune(password, 0) {
		return "Password contains invalid characters."
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < PasswordMinLen:
		return "Password must be at least 8 characters."
	case n > PasswordMaxLen:
		return "Password must be at most 128 characters."
	}
	lower := strings.ToLower(password)
	if IsCommonPassword(lower) || (username != "" && UsernameKey(password) == UsernameKey(username)) {
		return "This password is too easy to guess; choose another."
	}
	return ""
}

// CleanBody checks a message body: not blank, not longer than BodyMaxLen characters, valid UTF-8
// without NUL. Line breaks are kept; surrounding blank space is trimmed.
func CleanBody(raw string) (string, string) {
	if !utf8.ValidString(raw) || strings.ContainsRune(raw, 0) {
		return "", "The message contains invalid characters."
	}
	body := strings.TrimSpace(strings.ReplaceAll(raw, "\r\n", "\n"))
	if body == "" {
		return "", "Write a message before sending."
	}
	if utf8.RuneCountInString(body) > BodyMaxLen {
		return "", "The message is too long (at most 4,000 characters)."
	}
	return body, ""
}

// CleanClientID checks the optional idempotency key a client sends with a message.
func CleanClientID(raw string) (string, bool) {
	if raw == "" {
		return "", true
	}
	if len(raw) > ClientIDMaxLen {
		return "", false
	}
	for _, r := range raw {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", false
		}
	}
	return raw, true
}

// Set records the first error of a field.
func (e FieldErrors) Set(field, msg string) {
	if _, ok := e[field]; !ok {
		e[field] = msg
	}
}

// NameKey is what people search compares a user's names with: each folded as UsernameKey folds a
// username, a line apart so that a search cannot match across the two.
func NameKey(first, last string) string {
	return UsernameKey(first) + "\n" + UsernameKey(last)
}

// SearchKey is a search as typed, folded like the keys it is compared with; control characters (the
// line between the names among them) and surrounding blanks are dropped.
func SearchKey(query string) string {
	return strings.TrimSpace(UsernameKey(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, query)))
}

// Matches reports whether a user's username, first or last name contains a search (folded by
// SearchKey), as the users list's search in the store decides it. Every user matches no search.
func (u User) Matches(query string) bool {
	if query == "" {
		return true
	}
	key := SearchKey(query)
	return strings.Contains(UsernameKey(u.Username), key) || strings.Contains(NameKey(u.FirstName, u.LastName), key)
}
