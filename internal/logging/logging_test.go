package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLevelsFilter(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  []string // the messages that get through, of debug, info, warn, error
	}{
		{"", []string{"info", "warn", "error"}},
		{"debug", []string{"debug", "info", "warn", "error"}},
		{"INFO", []string{"info", "warn", "error"}},
		{"warn", []string{"warn", "error"}},
		{"error", []string{"error"}},
	} {
		var out bytes.Buffer
		log, err := New(&out, tc.level, "json")
		if err != nil {
			t.Fatalf("LOG_LEVEL=%q: %v", tc.level, err)
		}
		log.Debug("debug")
		log.Info("info")
		log.Warn("warn")
		log.Error("error")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var rec struct{ Msg string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("LOG_LEVEL=%q: a line is not JSON: %q", tc.level, line)
			}
			got = append(got, rec.Msg)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("LOG_LEVEL=%q logged %v, want %v", tc.level, got, tc.want)
		}
	}
}

func TestFormats(t *testing.T) {
	var text, js bytes.Buffer
	for w, format := range map[*bytes.Buffer]string{&text: "", &js: "json"} {
		log, err := New(w, "", format)
		if err != nil {
			t.Fatalf("LOG_FORMAT=%q: %v", format, err)
		}
		log.Info("request", "request_id", "abc", "status", 200)
	}
	if !strings.Contains(text.String(), "msg=request request_id=abc status=200") {
		t.Errorf("text line: %q", text.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil || rec["request_id"] != "abc" || rec["status"] != float64(200) || rec["level"] != "INFO" {
		t.Errorf("JSON line %q: %v, %v", js.String(), rec, err)
	}
}

func TestBadValuesAreErrors(t *testing.T) {
	for _, tc := range []struct{ level, format, says string }{
		{"verbose", "", "LOG_LEVEL"},
		{"", "logfmt", "LOG_FORMAT"},
	} {
		if _, err := New(&bytes.Buffer{}, tc.level, tc.format); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("LOG_LEVEL=%q LOG_FORMAT=%q: error %v, want one naming %s", tc.level, tc.format, err, tc.says)
		}
	}
}
