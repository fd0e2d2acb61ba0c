package producer_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

// BenchmarkStartCampaign starts a campaign of b.N template messages with
// three parameters on the real Redis — its rows stored packed, for the
// feeder — and reports messages per second and Redis memory per stored
// message.
//
//	go test -run '^$' -bench StartCampaign -benchtime 100000x ./producer/
func BenchmarkStartCampaign(b *testing.B) {
	rdb := redistest.Client(b, 0)
	ctx := context.Background()
	p, err := producer.New(producer.Config{Redis: rdb})
	require.NoError(b, err)
	msgs := make([]tasks.Message, b.N)
	for i := range msgs {
		msgs[i] = tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
			To:       tasks.Recipient{Phone: fmt.Sprintf("+65%08d", 90000000+i), Name: fmt.Sprintf("Guest %d", i)},
			Template: &tasks.Template{Name: "sale", Language: "en", Params: []string{"10%", "May", fmt.Sprintf("#%d", i)}}}
	}
	mem0, cpu0 := redistest.UsedMemory(b, rdb), redistest.CPU(b, rdb)
	b.ResetTimer()
	rep, err := p.StartCampaign(ctx, "bench", msgs, producer.StartOptions{})
	b.StopTimer()
	b.ReportMetric(float64((redistest.CPU(b, rdb)-cpu0).Microseconds())/float64(b.N), "redis-cpu-µs/msg")
	require.NoError(b, err)
	require.Equal(b, b.N, rep.Accepted)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(redistest.UsedMemory(b, rdb)-mem0)/float64(b.N), "redis-B/msg")
}

// BenchmarkStartCampaignFile starts a campaign from a CSV of b.N rows as
// `sendq campaign start` does — the file read, parsed and validated as it
// streams — with a phone, a name and three parameters (an order number, a
// date, an amount) a row, and reports rows per second, Redis memory and
// CPU per row.
//
//	go test -run '^$' -bench StartCampaignFile -benchtime 1000000x ./producer/
func BenchmarkStartCampaignFile(b *testing.B) {
	rdb := redistest.Client(b, 0)
	p, err := producer.New(producer.Config{Redis: rdb})
	require.NoError(b, err)
	var file bytes.Buffer
	file.WriteString("phone,name,param1,param2,param3\n")
	for i := range b.N {
		fmt.Fprintf(&file, "+65%08d,Guest %d Tan,ORD-%08d,%d Jun 2026,SGD %d.%02d\n", 80000000+i, i%10000, i, 1+i%30, i%2000, i%100)
	}
	defaults := producer.Fields{Channel: "whatsapp", Template: "order_update", Language: "en"}
	rows := func(emit func(producer.Row) error) error {
		return producer.ScanCampaign(&file, false, defaults, emit, func(e producer.RowError) { b.Error(e) })
	}
	mem0, cpu0 := redistest.UsedMemory(b, rdb), redistest.CPU(b, rdb)
	b.ResetTimer()
	rep, err := p.StartCampaignFrom(context.Background(), "bench", rows, producer.StartOptions{})
	b.StopTimer()
	b.ReportMetric(float64((redistest.CPU(b, rdb)-cpu0).Microseconds())/float64(b.N), "redis-cpu-µs/row")
	require.NoError(b, err)
	require.Equal(b, b.N, rep.Accepted)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(redistest.UsedMemory(b, rdb)-mem0)/float64(b.N), "redis-B/row")
}

// BenchmarkBareAsynqEnqueue is the floor StartCampaign stands on: asynq's own
// Enqueue of the same payloads from 32 goroutines, nothing else.
func BenchmarkBareAsynqEnqueue(b *testing.B) {
	rdb := redistest.Client(b, 0)
	client := asynq.NewClientFromRedisClient(rdb)
	payloads := make([][]byte, b.N)
	for i := range payloads {
		m := tasks.Message{ID: fmt.Sprintf("bench:%020d", i), Channel: tasks.WhatsApp, Kind: tasks.KindTemplate, Campaign: "bench",
			To:       tasks.Recipient{Phone: fmt.Sprintf("+65%08d", 90000000+i), Name: fmt.Sprintf("Guest %d", i)},
			Template: &tasks.Template{Name: "sale", Language: "en", Params: []string{"10%", "May", fmt.Sprintf("#%d", i)}}}
		p, err := tasks.Encode(&m)
		require.NoError(b, err)
		payloads[i] = p
	}
	var next atomic.Int64
	cpu0 := redistest.CPU(b, rdb)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				_, err := client.Enqueue(asynq.NewTask("send:whatsapp:template", payloads[i]),
					asynq.Queue("sendq:whatsapp:bulk"), asynq.TaskID(fmt.Sprintf("bench:%020d", i)))
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((redistest.CPU(b, rdb)-cpu0).Microseconds())/float64(b.N), "redis-cpu-µs/msg")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
