package views

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// textPart is a run of a message's text: plain, or a web address shown as a link to URL.
type textPart struct {
	Text string
	URL  string // "" for plain text
}

// linkParts cuts a message into plain text and the http and https addresses in it, which become
// links. An address starts with http:// or https:// at the start of a word and runs to a blank or a
// character that cannot be part of one (quotes, angle brackets); punctuation that ends a sentence,
// and closing brackets it did not open, are left out of it. Nothing else becomes a link.
func linkParts(text string) []textPart {
	var parts []textPart
	plainFrom := 0
	for i := 0; i < len(text); {
		end, ok := addressAt(text, i)
		if !ok {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			continue
		}
		if plainFrom < i {
			parts = append(parts, textPart{Text: text[plainFrom:i]})
		}
		parts = append(parts, textPart{Text: text[i:end], URL: text[i:end]})
		i, plainFrom = end, end
	}
	if plainFrom < len(text) {
		parts = append(parts, textPart{Text: text[plainFrom:]})
	}
	return parts
}

// addressAt returns where the web address starting at text[i] ends, if one starts there.
func addressAt(text string, i int) (int, bool) {
	rest := text[i:]
	if !hasPrefixFold(rest, "http://") && !hasPrefixFold(rest, "https://") {
		return 0, false
	}
	if before, _ := utf8.DecodeLastRuneInString(text[:i]); i > 0 && (unicode.IsLetter(before) || unicode.IsDigit(before)) {
		return 0, false
	}
	end := strings.IndexFunc(rest, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`<>"'`+"`", r)
	})
	if end < 0 {
		end = len(rest)
	}
	address := trimAddress(rest[:end])
	u, err := url.Parse(address)
	if err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Hostname() == "" {
		return 0, false
	}
	return i + len(address), true
}

// trimAddress drops what ends a sentence rather than an address: trailing punctuation and closing
// brackets without their opening one in the address.
func trimAddress(a string) string {
	for a != "" {
		last := a[len(a)-1]
		switch {
		case strings.IndexByte(".,;:!?*", last) >= 0:
		case last == ')' && strings.Count(a, "(") < strings.Count(a, ")"):
		case last == ']' && strings.Count(a, "[") < strings.Count(a, "]"):
		case last == '}' && strings.Count(a, "{") < strings.Count(a, "}"):
		default:
			return a
		}
		a = a[:len(a)-1]
	}
	return a
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
