package main

import (
	"slices"
	"strings"
	"testing"

	"messenger/handlers"
)

// The operator's limits reach handlers.Deps: unset keeps the defaults, 0 lifts a limit, a single
// proxy address is its own /32 or /128, and a mistyped value stops the start with a readable reason.
func TestLimitsFromEnv(t *testing.T) {
	tests := []struct {
		name            string
		env             map[string]string
		login, register int
		proxies         []string
		wantErr         string
	}{
		{name: "unset: defaults, no proxy", env: map[string]string{}},
		{name: "0 lifts", env: map[string]string{"LOGIN_LIMIT": "0", "REGISTER_LIMIT": "0"}, login: handlers.NoLimit, register: handlers.NoLimit},
		{name: "numbers", env: map[string]string{"LOGIN_LIMIT": "5", "REGISTER_LIMIT": "3"}, login: 5, register: 3},
		{
			name:    "proxies",
			env:     map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 ,fd00::1/64"},
			proxies: []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/64"},
		},
		{name: "negative limit", env: map[string]string{"LOGIN_LIMIT": "-1"}, wantErr: "LOGIN_LIMIT must be a number"},
		{name: "word limit", env: map[string]string{"REGISTER_LIMIT": "ten"}, wantErr: "REGISTER_LIMIT must be a number"},
		{name: "bad proxy", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, wantErr: `"proxy.local" is not a CIDR`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"LOGIN_LIMIT", "REGISTER_LIMIT", "TRUSTED_PROXIES"} {
				t.Setenv(k, tc.env[k])
			}
			d, err := limitsFromEnv()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var proxies []string
			for _, p := range d.TrustedProxies {
				proxies = append(proxies, p.String())
			}
			if d.LoginLimit != tc.login || d.RegisterLimit != tc.register || !slices.Equal(proxies, tc.proxies) {
				t.Fatalf("login %d, register %d, proxies %v; want %d, %d, %v", d.LoginLimit, d.RegisterLimit, proxies, tc.login, tc.register, tc.proxies)
			}
		})
	}
}
