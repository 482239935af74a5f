package models

import (
	"strings"
	"testing"
)

func TestNormalizeUsername(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "alice", "alice", true},
		{"trimmed", "  bob_1 ", "bob_1", true},
		{"unicode letters", "zoë.k", "zoë.k", true},
		{"full width folds to ascii", "ａｌｉｃｅ", "alice", true},
		{"too short", "al", "", false},
		{"33 chars", strings.Repeat("a", 33), "", false},
		{"10000 chars", strings.Repeat("a", 10000), "", false},
		{"sql metacharacters", "a'; DROP TABLE users;--", "", false},
		{"space inside", "al ice", "", false},
		{"zero width", "al\u200bice", "", false},
		{"bidi override", "al\u202eice", "", false},
		{"control", "al\x07ice", "", false},
		{"nul", "al\x00ice", "", false},
		{"invalid utf8", "al\xffice", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason := NormalizeUsername(c.in)
			if (reason == "") != c.ok || got != c.want {
				t.Fatalf("NormalizeUsername(%q) = %q, %q; want %q ok=%v", c.in, got, reason, c.want, c.ok)
			}
		})
	}
}

func TestUsernameKeyIgnoresCaseAndWidth(t *testing.T) {
	for _, pair := range [][2]string{{"Alice", "alice"}, {"ＡＬＩＣＥ", "alice"}, {"STRASSE", "straße"}} {
		if UsernameKey(pair[0]) != UsernameKey(pair[1]) {
			t.Errorf("UsernameKey(%q) != UsernameKey(%q)", pair[0], pair[1])
		}
	}
	if UsernameKey("alice") == UsernameKey("alicia") {
		t.Error("different names share a key")
	}
}

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		name, pw string
		ok       bool
	}{
		{"short", "abc123", false},
		{"common", "Password1", false},
		{"deep in the common list (rank 5,014)", "NightWish", false},
		{"same as username", "alice.smith", false},
		{"eight", "tr0ub4dor", true},
		{"sixty-four", strings.Repeat("xy", 32), true},
		{"too long", strings.Repeat("x", 129), false},
		{"nul", "abcdefgh\x00", false},
	}
	for _, c := range cases {
		if got := CheckPassword(c.pw, "alice.smith"); (got == "") != c.ok {
			t.Errorf("%s: CheckPassword = %q, want ok=%v", c.name, got, c.ok)
		}
	}
}

func TestCleanBody(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"text", "hello", "hello", true},
		{"trim", "  hi \n", "hi", true},
		{"keeps markup as text", "<script>x</script>", "<script>x</script>", true},
		{"empty", "", "", false},
		{"whitespace", " \n\t ", "", false},
		{"4000", strings.Repeat("é", 4000), strings.Repeat("é", 4000), true},
		{"4001", strings.Repeat("a", 4001), "", false},
		{"invalid utf8", "a\xff", "", false},
		{"nul", "a\x00b", "", false},
	}
	for _, c := range cases {
		got, reason := CleanBody(c.in)
		if (reason == "") != c.ok || got != c.want {
			t.Errorf("%s: CleanBody = %q, %q", c.name, got, reason)
		}
	}
}

func TestPasswordHashRoundTrip(t *testing.T) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected hash format %q", hash)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := VerifyPassword(pw, hash)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if _, err := VerifyPassword("x", "$bcrypt$nope"); err == nil {
		t.Error("malformed hash accepted")
	}
}

func FuzzCleanBody(f *testing.F) {
	for _, s := range []string{"hi", "", " ", "<b>", "\xff", strings.Repeat("a", 4001)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		body, reason := CleanBody(s)
		if reason == "" && (body == "" || len([]rune(body)) > BodyMaxLen) {
			t.Fatalf("accepted bad body %q", s)
		}
	})
}

func TestCleanFileName(t *testing.T) {
	long := strings.Repeat("a", 300) + ".jpg"
	tests := map[string]string{
		"../../etc/passwd":      "passwd",
		`..\..\windows\win.ini`: "win.ini",
		"photo.jpg":             "photo.jpg",
		"  spaced .txt ":        "spaced .txt",
		"a\x00b\u202ec\n.png":   "abc.png",
		"..":                    "file",
		"":                      "file",
		"dir/":                  "file",
		"\xff\xfe.bin":          "bin",
		long:                    strings.Repeat("a", AttachmentNameMaxLen-4) + ".jpg",
	}
	for in, want := range tests {
		if got := CleanFileName(in); got != want {
			t.Errorf("CleanFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KB", 10 << 20: "10 MB", 1536: "1.5 KB", 1 << 30: "1.0 GB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
