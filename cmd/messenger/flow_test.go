package main

import (
	"testing"

	"messenger/handlers"
)

func TestFlowLimitsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		rate, sockets, perAddr string
		want                   handlers.FlowLimits
		bad                    bool
	}{
		{want: handlers.FlowLimits{}}, // unset: the defaults
		{rate: "0", sockets: "0", perAddr: "0", want: handlers.FlowLimits{SendRate: handlers.NoLimit, SocketsPerUser: handlers.NoLimit, SocketsPerAddress: handlers.NoLimit}},
		{rate: "2.5", sockets: "4", perAddr: "100", want: handlers.FlowLimits{SendRate: 2.5, SocketsPerUser: 4, SocketsPerAddress: 100}},
		{rate: "-1", bad: true},
		{rate: "fast", bad: true},
		{sockets: "1.5", bad: true},
	} {
		t.Setenv("SEND_RATE", tc.rate)
		t.Setenv("MAX_SOCKETS", tc.sockets)
		t.Setenv("MAX_SOCKETS_PER_ADDRESS", tc.perAddr)
		got, err := flowLimitsFromEnv()
		if tc.bad {
			if err == nil {
				t.Errorf("%+v: accepted", tc)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %+v, %v", tc, got, err)
		}
	}
}
