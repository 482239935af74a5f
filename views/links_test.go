package views

import (
	"context"
	"strings"
	"testing"
)

func TestMessageTextLinks(t *testing.T) {
	link := func(href, text string) string {
		return `<a href="` + href + `" rel="noopener noreferrer nofollow" target="_blank" class="message-link">` + text + `</a>`
	}
	long := "https://example.org/" + strings.Repeat("a", 5000)
	for _, c := range []struct{ body, want string }{
		{"no address here", "no address here"},
		{"see https://example.org/x?a=1&b=2#top.", "see " + link("https://example.org/x?a=1&amp;b=2#top", "https://example.org/x?a=1&amp;b=2#top") + "."},
		{"(http://example.org/wiki/Go_(language)), ok", "(" + link("http://example.org/wiki/Go_(language)", "http://example.org/wiki/Go_(language)") + "), ok"},
		{"HTTPS://EXAMPLE.ORG!", link("HTTPS://EXAMPLE.ORG", "HTTPS://EXAMPLE.ORG") + "!"},
		{"two: https://a.example and https://b.example?", "two: " + link("https://a.example", "https://a.example") + " and " + link("https://b.example", "https://b.example") + "?"},
		{"javascript:alert(1)", "javascript:alert(1)"},
		{"data:text/html,<script>alert(1)</script>", "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"xhttps://example.org", "xhttps://example.org"},
		{"https://", "https://"},
		{"https://:80/nohost", "https://:80/nohost"},
		{"ftp://example.org www.example.org", "ftp://example.org www.example.org"},
		{`https://example.org/"onmouseover="alert(1)`, link("https://example.org/", "https://example.org/") + `&#34;onmouseover=&#34;alert(1)`},
		{"https://example.org/<script>alert(1)</script>", link("https://example.org/", "https://example.org/") + "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"<https://example.org/a>", "&lt;" + link("https://example.org/a", "https://example.org/a") + "&gt;"},
		{"https://example.org/'x", link("https://example.org/", "https://example.org/") + "&#39;x"},
		{"line one\nhttps://example.org\ttab", "line one\n" + link("https://example.org", "https://example.org") + "\ttab"},
		{"héllo https://bücher.example/ü ok", "héllo " + link("https://bücher.example/ü", "https://bücher.example/ü") + " ok"},
		{long + ".", link(long, long) + "."},
	} {
		var out strings.Builder
		if err := MessageText(c.body).Render(context.Background(), &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("MessageText(%.60q) =\n%.300s\nwant\n%.300s", c.body, out.String(), c.want)
		}
	}
}
