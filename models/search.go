package models

import (
	"strings"
	"unicode"
)

// SearchHit is a message a search found, with the other person of its conversation.
type SearchHit struct {
	Message
	Partner User // id, username and names only
}

// MaxSearchTerms bounds how many words of a message search count; the rest are ignored.
const MaxSearchTerms = 8

// SearchTerms splits a message search as typed into its words: runs of letters, digits and marks, the
// characters both databases' full-text indexes keep. Everything else (punctuation, quotes, operators
// of either search syntax) only separates words, so nothing typed reaches a query's syntax.
func SearchTerms(query string) []string {
	words := strings.FieldsFunc(query, func(r rune) bool { return !isWordRune(r) })
	if len(words) > MaxSearchTerms {
		words = words[:MaxSearchTerms]
	}
	return words
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

// Segment is a run of a message's text, marked when it is a word a search found.
type Segment struct {
	Text  string
	Match bool
}

// snippetRunes is about how much of a long message a search result shows around the first match.
const snippetRunes = 160

// Snippet is the part of body around the first word that starts with one of terms (ignoring case), cut
// into segments with every such word marked. The text is plain: a view escapes it.
func Snippet(body string, terms []string) []Segment {
	folded := make([]string, len(terms))
	for i, t := range terms {
		folded[i] = UsernameKey(t)
	}
	runes := []rune(body)
	type span struct{ start, end int }
	var words []span
	for i := 0; i < len(runes); {
		if !isWordRune(runes[i]) {
			i++
			continue
		}
		j := i
		for j < len(runes) && isWordRune(runes[j]) {
			j++
		}
		key := UsernameKey(string(runes[i:j]))
		for _, t := range folded {
			if strings.HasPrefix(key, t) {
				words = append(words, span{i, j})
				break
			}
		}
		i = j
	}
	from, to := 0, len(runes)
	if len(runes) > snippetRunes {
		if len(words) > 0 {
			from = max(0, words[0].start-snippetRunes/4)
		}
		to = min(len(runes), from+snippetRunes)
	}
	var out []Segment
	add := func(text string, match bool) {
		if text != "" {
			out = append(out, Segment{Text: text, Match: match})
		}
	}
	if from > 0 {
		add("…", false)
	}
	at := from
	for _, w := range words {
		if w.start < from || w.end > to {
			continue
		}
		add(string(runes[at:w.start]), false)
		add(string(runes[w.start:w.end]), true)
		at = w.end
	}
	add(string(runes[at:to]), false)
	if to < len(runes) {
		add("…", false)
	}
	return out
}
