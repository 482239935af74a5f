package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// report is everything a run measured.
type report struct {
	cfg config
	runInfo

	SocketsWanted int
	Sockets       int
	ConnectTime   time.Duration
	SettleTime    time.Duration
	NeverQuiet    bool
	ConnectFrames int64
	ConnectBytes  int64

	Senders          int
	SendTime         time.Duration
	DrainTime        time.Duration
	Delivery         deliveryStats
	ChatFrames       int64
	ChatBytes        int64
	ClosedBeforeChat int64
	ClosedDuringChat int64
	ShortSockets     int // sockets that missed some of their owner's messages
	MissedFragments  int

	ServerStart      *procSample
	ServerRegistered *procSample
	ServerConnected  *procSample
	ServerPeak       *procSample
	ServerAfter      *procSample
	LoadCPU          time.Duration
	MachineBusy      float64 // share of all CPUs busy while chatting, 0..1
	CPUs             int
	LoadAvgStart     float64 // 1-minute load average when the run started
	LoadAvgChat      float64 // and when chatting started

	Rush *rushSummary // -mode login-rush
}

func (r *report) complete() bool { return r.Delivery.Lost == 0 && r.Delivery.Duplicates == 0 }

func (r *report) sentRate() float64 { return rate(r.Delivery.Sent, r.SendTime) }

// deliveredRate is deliveries per second from the first send to the last arrival.
func (r *report) deliveredRate() float64 {
	d := r.Delivery
	if d.LastArrival.IsZero() {
		return 0
	}
	return rate(d.Delivered, d.LastArrival.Sub(d.FirstSend))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", ms(d))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", ms(d))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", ms(d))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }

func byteSize(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 10<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func (r *report) write(w io.Writer) {
	c := r.cfg
	p := newPrinter(w)
	r.writeHead(p)
	paced := ""
	switch {
	case c.connectRate > 0:
		paced = fmt.Sprintf(", users brought online at %.3g/s", c.connectRate)
	case c.storm:
		paced = ", all at once (-storm)"
	}
	p("sockets", "%d of %d open in %s%s; quiet %s later (%d frames, %s while connecting)",
		r.Sockets, r.SocketsWanted, fmtDur(r.ConnectTime), paced, fmtDur(r.SettleTime), r.ConnectFrames, byteSize(r.ConnectBytes))
	dir := "both ways"
	if c.oneWay {
		dir = "one way"
	}
	p("chat", "%d pairs (%s), %d senders at %.3g msg/s each for %s", c.pairs, dir, r.Senders, c.rate, c.duration)
	d := r.Delivery
	p("messages", "sent %d, delivered %d, lost %d, duplicates %d", d.Sent, d.Delivered, d.Lost, d.Duplicates)
	if d.Unknown > 0 {
		p("", "%d fragments carried a client id this run never sent", d.Unknown)
	}
	p("fan-out", "%d of %d socket deliveries (every socket of sender and recipient)", d.FanoutGot, d.FanoutWant)
	if r.ShortSockets > 0 {
		p("", "%d sockets short of %d fragments in all (not delivered in time, or the socket was dropped by the server)", r.ShortSockets, r.MissedFragments)
	}
	l := d.Latency
	p("latency", "p50 %s  p95 %s  p99 %s  max %s  (mean %s, n=%d)", fmtDur(l.P50), fmtDur(l.P95), fmtDur(l.P99), fmtDur(l.Max), fmtDur(l.Mean), l.Count)
	if l.Count > 0 {
		var parts []string
		for _, b := range d.Histogram {
			if b.Count == 0 {
				continue
			}
			le := "more"
			if b.Le > 0 {
				le = "≤" + fmtDur(b.Le)
			}
			parts = append(parts, fmt.Sprintf("%s %d", le, b.Count))
		}
		p("", "%s", strings.Join(parts, ", "))
	}
	p("throughput", "sent %.1f msg/s, delivered %.1f msg/s (drain %s after sending stopped)", r.sentRate(), r.deliveredRate(), fmtDur(r.DrainTime))
	perFrame := int64(0)
	if r.ChatFrames > 0 {
		perFrame = r.ChatBytes / r.ChatFrames
	}
	perDelivery := int64(0)
	if d.FanoutGot > 0 {
		perDelivery = r.ChatBytes / int64(d.FanoutGot)
	}
	p("traffic", "%d frames, %s received while chatting (%s per frame, %s per socket delivery)",
		r.ChatFrames, byteSize(r.ChatBytes), byteSize(perFrame), byteSize(perDelivery))
	if r.ClosedBeforeChat+r.ClosedDuringChat > 0 {
		p("closed", "%d sockets ended by the server while connecting, %d while chatting", r.ClosedBeforeChat, r.ClosedDuringChat)
	}
	if r.ServerStart != nil {
		rss := func(s *procSample) string {
			if s == nil {
				return "?"
			}
			return mib(s.RSSKiB)
		}
		p("server RSS", "start %s, registered %s, connected %s, peak while chatting %s, after %s",
			rss(r.ServerStart), rss(r.ServerRegistered), rss(r.ServerConnected), rss(r.ServerPeak), rss(r.ServerAfter))
		if a := r.ServerAfter; a != nil {
			p("", "VmHWM %s, %d threads", mib(a.HWMKiB), a.Threads)
		}
		if r.ServerRegistered != nil && r.ServerConnected != nil && r.ServerAfter != nil {
			chatCPU := r.ServerAfter.CPUSecs - r.ServerConnected.CPUSecs
			perMsg := ""
			if r.Delivery.Delivered > 0 {
				perMsg = fmt.Sprintf(", %.0f µs per delivered message", 1e6*chatCPU/float64(r.Delivery.Delivered))
			}
			p("server CPU", "%.1fs registering, %.1fs connecting, %.1fs chatting (%.2f cores over %s%s)",
				r.ServerRegistered.CPUSecs-r.ServerStart.CPUSecs, r.ServerConnected.CPUSecs-r.ServerRegistered.CPUSecs,
				chatCPU, chatCPU/(r.SendTime+r.DrainTime).Seconds(), fmtDur(r.SendTime+r.DrainTime), perMsg)
		}
	}
	p("load CPU", "%.1fs while chatting (this tool, same machine)", r.LoadCPU.Seconds())
	p("machine", "%.0f%% of %d CPUs busy while chatting (everything on the machine); load average %.2f at start, %.2f when chatting began",
		100*r.MachineBusy, r.CPUs, r.LoadAvgStart, r.LoadAvgChat)
	if r.Rush != nil {
		r.Rush.write(p)
	}
	r.writeTail(p)
}

type jsonLatency struct {
	Count  int     `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

type jsonProc struct {
	RSSKiB  int64   `json:"rss_kib"`
	HWMKiB  int64   `json:"hwm_kib"`
	CPUSecs float64 `json:"cpu_seconds"`
	Threads int     `json:"threads"`
}

func toJSONProc(s *procSample) *jsonProc {
	if s == nil {
		return nil
	}
	return &jsonProc{s.RSSKiB, s.HWMKiB, s.CPUSecs, s.Threads}
}

func (r *report) json() any {
	d := r.Delivery
	hist := map[string]int{}
	for _, b := range d.Histogram {
		key := "more"
		if b.Le > 0 {
			key = fmt.Sprintf("le_%gms", ms(b.Le))
		}
		hist[key] = b.Count
	}
	m := r.addJSON(map[string]any{
		"mode":               r.cfg.mode,
		"sockets_wanted":     r.SocketsWanted,
		"sockets":            r.Sockets,
		"connect_seconds":    r.ConnectTime.Seconds(),
		"connect_rate":       r.cfg.connectRate,
		"storm":              r.cfg.storm,
		"settle_seconds":     r.SettleTime.Seconds(),
		"never_quiet":        r.NeverQuiet,
		"connect_frames":     r.ConnectFrames,
		"connect_bytes":      r.ConnectBytes,
		"pairs":              r.cfg.pairs,
		"one_way":            r.cfg.oneWay,
		"senders":            r.Senders,
		"rate_per_sender":    r.cfg.rate,
		"duration_seconds":   r.cfg.duration.Seconds(),
		"send_seconds":       r.SendTime.Seconds(),
		"drain_seconds":      r.DrainTime.Seconds(),
		"sent":               d.Sent,
		"delivered":          d.Delivered,
		"lost":               d.Lost,
		"duplicates":         d.Duplicates,
		"unknown":            d.Unknown,
		"fanout_expected":    d.FanoutWant,
		"fanout_received":    d.FanoutGot,
		"latency":            jsonLatency{d.Latency.Count, ms(d.Latency.Mean), ms(d.Latency.P50), ms(d.Latency.P90), ms(d.Latency.P95), ms(d.Latency.P99), ms(d.Latency.Max)},
		"latency_histogram":  hist,
		"sent_per_second":    r.sentRate(),
		"delivered_per_sec":  r.deliveredRate(),
		"chat_frames":        r.ChatFrames,
		"chat_bytes":         r.ChatBytes,
		"closed_before_chat": r.ClosedBeforeChat,
		"closed_during_chat": r.ClosedDuringChat,
		"short_sockets":      r.ShortSockets,
		"missed_fragments":   r.MissedFragments,
		"server_start":       toJSONProc(r.ServerStart),
		"server_registered":  toJSONProc(r.ServerRegistered),
		"server_connected":   toJSONProc(r.ServerConnected),
		"server_peak_chat":   toJSONProc(r.ServerPeak),
		"server_after":       toJSONProc(r.ServerAfter),
		"load_cpu_seconds":   r.LoadCPU.Seconds(),
		"machine_busy":       r.MachineBusy,
		"cpus":               r.CPUs,
		"loadavg_start":      r.LoadAvgStart,
		"loadavg_chat":       r.LoadAvgChat,
	})
	if r.Rush != nil {
		m["login_rush"] = r.Rush.json()
	}
	return m
}

func sumCounts(list []errorCount) int {
	n := 0
	for _, e := range list {
		n += e.Count
	}
	return n
}
