package main

import (
	"fmt"
	"os"
	"strconv"

	"messenger/handlers"
)

// flowLimitsFromEnv reads SEND_RATE, MAX_SOCKETS and MAX_SOCKETS_PER_ADDRESS: unset takes the
// default, 0 lifts the limit (a load test on loopback), anything else must be a positive number.
func flowLimitsFromEnv() (handlers.FlowLimits, error) {
	var l handlers.FlowLimits
	rate, err := envLimit("SEND_RATE", true)
	if err != nil {
		return l, err
	}
	l.SendRate = rate
	for key, dst := range map[string]*int{"MAX_SOCKETS": &l.SocketsPerUser, "MAX_SOCKETS_PER_ADDRESS": &l.SocketsPerAddress} {
		n, err := envLimit(key, false)
		if err != nil {
			return l, err
		}
		*dst = int(n)
	}
	return l, nil
}

// envLimit parses one limit: 0 if unset (the default), handlers.NoLimit if "0".
func envLimit(key string, fractional bool) (float64, error) {
	raw := os.Getenv(key)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(raw, 64)
	if err == nil && !fractional && n != float64(int(n)) {
		err = strconv.ErrSyntax
	}
	if err != nil || n < 0 || n > 1e6 {
		return 0, fmt.Errorf("%s must be a number from 0 (no limit) to 1000000, not %q", key, raw)
	}
	if n == 0 {
		return handlers.NoLimit, nil
	}
	return n, nil
}
