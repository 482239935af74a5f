package handlers

import (
	"testing"

	"messenger/models"
)

func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"to":"bob","body":"hi","client_id":"a1"}`,
		`{"kind":"open","to":"bob","after":"12","visible":"hidden"}`,
		`{"kind":"open","to":"bob","after":12}`,
		`{"kind":"typing","to":"bob","HEADERS":{"HX-Request":"true"}}`,
		`{"to":"","body":""}`, `{`, `null`, `[]`, `{"after":"9999999999999999999999"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, after, err := decodeFrame(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message for the person")
			}
			return
		}
		if fr.Kind != "close" && (fr.To == nil || *fr.To == "") {
			t.Fatal("accepted a frame without a recipient")
		}
		if (fr.Kind == "" || fr.Kind == "send") && fr.Body == nil {
			t.Fatal("accepted a send without a body")
		}
		if after < 0 {
			t.Fatal("accepted a negative position")
		}
	})
}

// FuzzRegistrationFields checks the form decoders never accept what they promise to refuse.
func FuzzRegistrationFields(f *testing.F) {
	for _, seed := range []string{"alice", "ＡＬＩＣＥ", "a\u200bb", "x'; --", "\xff", "ab", "名前テスト"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if name, reason := models.NormalizeUsername(s); reason == "" {
			if !utf8Valid(name) || len([]rune(name)) < models.UsernameMinLen || len([]rune(name)) > models.UsernameMaxLen {
				t.Fatalf("accepted username %q", name)
			}
			if models.UsernameKey(name) == "" {
				t.Fatalf("empty key for %q", name)
			}
		}
		if name, reason := models.CleanName(s, "First name", true); reason == "" && (!utf8Valid(name) || name == "") {
			t.Fatalf("accepted name %q", name)
		}
	})
}
