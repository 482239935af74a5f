// Package metrics holds Messenger's Prometheus metrics and serves them on a listener of their own
// (METRICS_ADDR), never on the public address. The hot paths only add to counters and histograms;
// what can be read when scraped (sockets open, database pools) is read then.
package metrics

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "messenger"

// latencyBuckets span half a millisecond to 16 seconds, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)

// Metrics are one server's metrics, in a registry of their own: tests run several servers in one
// process, and nothing here is global.
type Metrics struct {
	registry *prometheus.Registry

	// MessagesStored counts messages committed (a retried client id is not counted again).
	MessagesStored prometheus.Counter
	// MessagesDelivered counts message frames written to sockets: one message reaches every open page
	// of its sender and its recipient.
	MessagesDelivered prometheus.Counter
	// DeliveryLatency is from a message's commit to the write of its frame to a socket.
	DeliveryLatency prometheus.Histogram
	// SendLatency is from a send reaching the server's send function to its commit.
	SendLatency prometheus.Histogram
	// SendBatchSize is how many sends one group-commit transaction carried.
	SendBatchSize prometheus.Histogram
	// HashWait is how long a sign-in or registration waited for a password hashing slot.
	HashWait prometheus.Histogram

	slowQueueFull    prometheus.Counter
	slowWriteTimeout prometheus.Counter
	httpDuration     *prometheus.HistogramVec
}

// New returns the metrics with the Go runtime and process collectors registered.
func New() *Metrics {
	slow := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "sockets_dropped_slow_total",
		Help: "Sockets closed because their client fell behind: its outgoing queue filled up (queue_full) or one write blocked for the write timeout (write_timeout).",
	}, []string{"reason"})
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		MessagesStored: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_stored_total",
			Help: "Messages committed to the database.",
		}),
		MessagesDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_delivered_total",
			Help: "Message frames written to sockets (one per open page of the sender and of the recipient).",
		}),
		DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "delivery_latency_seconds",
			Help:    "Time from a message's commit to the write of its frame to a socket.",
			Buckets: latencyBuckets,
		}),
		SendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "send_latency_seconds",
			Help:    "Time from a send (form or socket frame, after flow control) to its commit.",
			Buckets: latencyBuckets,
		}),
		SendBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "send_batch_size",
			Help:    "Sends written by one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 8), // 1 to 128, the largest batch
		}),
		HashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "password_hash_wait_seconds",
			Help:    "Time a sign-in, registration or password change waited for a password hashing slot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		slowQueueFull:    slow.WithLabelValues("queue_full"),
		slowWriteTimeout: slow.WithLabelValues("write_timeout"),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method, route pattern (unmatched: no route) and status.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.MessagesStored, m.MessagesDelivered, m.DeliveryLatency, m.SendLatency, m.SendBatchSize, m.HashWait,
		slow, m.httpDuration,
	)
	return m
}

// Watch registers what is read at scrape time: the count of open sockets and the statistics of the
// database pools, by name (go_sql_* with db_name). Call it once.
func (m *Metrics) Watch(sockets func() int, pools map[string]*sql.DB) error {
	cs := []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "sockets_open",
		Help: "WebSockets open on this instance.",
	}, func() float64 { return float64(sockets()) })}
	for name, db := range pools {
		cs = append(cs, collectors.NewDBStatsCollector(db, name))
	}
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// ObserveRequest records one HTTP request. method and route must not alias a request's buffers: they
// are kept as labels.
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	m.httpDuration.WithLabelValues(method, route, strconv.Itoa(status)).Observe(took.Seconds())
}

// ObserveBatch records one group-commit transaction: batch sends, of which stored were new messages.
func (m *Metrics) ObserveBatch(batch, stored int) {
	m.SendBatchSize.Observe(float64(batch))
	m.MessagesStored.Add(float64(stored))
}

// MessageWritten records a message's frame written to a socket, committed at the given time.
func (m *Metrics) MessageWritten(committed time.Time) {
	m.MessagesDelivered.Inc()
	m.DeliveryLatency.Observe(time.Since(committed).Seconds())
}

// SlowSocketDropped records a socket closed for falling behind: its queue was full, or a write timed out.
func (m *Metrics) SlowSocketDropped(writeTimedOut bool) {
	if writeTimedOut {
		m.slowWriteTimeout.Inc()
		return
	}
	m.slowQueueFull.Inc()
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Serve serves /metrics on addr (and nothing else) in the background. The returned func stops it.
func (m *Metrics) Serve(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
