package producer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

type bundle struct {
	mr  *miniredis.Miniredis
	rdb *redis.Client
	ins *asynq.Inspector
}

func setup(t *testing.T) (*producer.Producer, *bundle) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	p, err := producer.New(producer.Config{Redis: rdb})
	require.NoError(t, err)
	return p, &bundle{mr: mr, rdb: rdb, ins: asynq.NewInspectorFromRedisClient(rdb)}
}

func (b *bundle) pending(t *testing.T, queue string) int {
	t.Helper()
	info, err := b.ins.GetQueueInfo(queue)
	if err != nil {
		return 0
	}
	return info.Pending + info.Scheduled
}

func text(id string) tasks.Message {
	return tasks.Message{ID: id, Channel: tasks.WhatsApp, Kind: tasks.KindText,
		To: tasks.Recipient{Phone: "+65 9876 5432"}, Text: "hi"}
}

func TestSend(t *testing.T) {
	ctx := context.Background()

	t.Run("EnqueuesOnceAndRecordsQueued", func(t *testing.T) {
		p, b := setup(t)
		r, err := p.Send(ctx, text("m1"))
		require.NoError(t, err)
		require.Equal(t, producer.Receipt{ID: "m1", State: producer.StateQueued}, r)
		r, err = p.Send(ctx, text("m1"))
		require.NoError(t, err)
		require.True(t, r.Duplicate)
		require.Equal(t, 1, b.pending(t, keys.Queue("whatsapp", false)))
		o, err := p.Status(ctx, "m1")
		require.NoError(t, err)
		require.Equal(t, producer.StateQueued, o.State)
	})

	t.Run("AcceptedBeforeIsADuplicateEvenWithItsTaskGone", func(t *testing.T) {
		// A worker may finish the message and asynq delete its task between
		// Send's look at the record and its enqueue; the same holds for a
		// task lost with Redis data. The task is put back (a worker's claim
		// finds the message finished, if it is) and the receipt says duplicate.
		p, b := setup(t)
		_, err := p.Send(ctx, text("m1"))
		require.NoError(t, err)
		require.NoError(t, b.ins.DeleteTask(keys.Queue("whatsapp", false), "m1"))
		r, err := p.Send(ctx, text("m1"))
		require.NoError(t, err)
		require.True(t, r.Duplicate)
		require.Equal(t, producer.StateQueued, r.State)
		require.Equal(t, 1, b.pending(t, keys.Queue("whatsapp", false)), "the task is back")
	})

	t.Run("InvalidInputEnqueuesNothing", func(t *testing.T) {
		p, b := setup(t)
		m := text("m1")
		m.To.Phone = "12"
		_, err := p.Send(ctx, m)
		var v *tasks.ValidationError
		require.ErrorAs(t, err, &v)
		require.Equal(t, "to.phone", v.Field)
		require.Zero(t, b.pending(t, keys.Queue("whatsapp", false)))
		require.Empty(t, b.mr.Keys(), "nothing at all is written")
	})

	t.Run("ScheduledAndEmptyIDGetsOne", func(t *testing.T) {
		p, _ := setup(t)
		m := text("")
		m.NotBefore = time.Now().Add(time.Hour)
		r, err := p.Send(ctx, m)
		require.NoError(t, err)
		require.Len(t, r.ID, 32)
		require.Equal(t, producer.StateScheduled, r.State)
	})

	t.Run("CampaignMessagesGoToTheBulkLane", func(t *testing.T) {
		p, b := setup(t)
		m := text("m1")
		m.Campaign = "c"
		_, err := p.Send(ctx, m)
		require.NoError(t, err)
		require.Equal(t, 1, b.pending(t, keys.Queue("whatsapp", true)))
		require.Zero(t, b.pending(t, keys.Queue("whatsapp", false)))
	})

	t.Run("UnknownStatusIsNotFound", func(t *testing.T) {
		p, _ := setup(t)
		_, err := p.Status(ctx, "nope")
		require.ErrorIs(t, err, producer.ErrNotFound)
	})
}

func TestCampaign(t *testing.T) {
	ctx := context.Background()
	rows := func(n int) []tasks.Message {
		var ms []tasks.Message
		for i := range n {
			ms = append(ms, tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
				To:       tasks.Recipient{Phone: fmt.Sprintf("+6591%06d", i)},
				Template: &tasks.Template{Name: "sale", Language: "en", Params: []string{"x"}}})
		}
		return ms
	}

	t.Run("StartAgainEnqueuesOnlyTheMissing", func(t *testing.T) {
		p, b := setup(t)
		all := rows(50)
		rep, err := p.StartCampaign(ctx, "c1", append(all[:20:20], all[0]), producer.StartOptions{})
		require.NoError(t, err)
		require.Equal(t, 20, rep.Accepted)
		require.Equal(t, 1, rep.Duplicates, "the same recipient twice in the file")
		rep, err = p.StartCampaign(ctx, "c1", rows(50), producer.StartOptions{})
		require.NoError(t, err)
		require.Equal(t, 30, rep.Accepted)
		require.Equal(t, 20, rep.Duplicates)
		require.Zero(t, b.pending(t, keys.Queue("whatsapp", true)), "rows wait for the feeder")
		c, err := p.CampaignStatus(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, 50, c.Total)
		require.Equal(t, map[producer.State]int{producer.StateQueued: 50}, c.Counts, "rows not fed read queued")
		o, err := p.Status(ctx, producer.CampaignMessageID("c1", tasks.WhatsApp, tasks.Recipient{Phone: "6591000049"}))
		require.NoError(t, err)
		require.Equal(t, producer.StateQueued, o.State)
		require.Equal(t, "c1", o.Campaign)
		runFeeder(t, b.rdb)
		b.waitPending(t, keys.Queue("whatsapp", true), 50)
		c, err = p.CampaignStatus(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, 50, c.Fed)
		require.Equal(t, map[producer.State]int{producer.StateQueued: 50}, c.Counts, "records as rows are fed")
		n, err := b.rdb.Keys(ctx, "*:c:c1:k:*").Result()
		require.NoError(t, err)
		require.Empty(t, n, "chunks fed are dropped")
	})

	t.Run("RowsOfAStartArePackedAgainstItsBase", func(t *testing.T) {
		// Rows alike but for their own parts keep only those: a start
		// accepts all its rows at one time, so no row differs from the base
		// by its CreatedAt (which would keep every row whole, at ~200 B).
		p, b := setup(t)
		_, err := p.StartCampaign(ctx, "c1", rows(1000), producer.StartOptions{})
		require.NoError(t, err)
		chunk, err := b.rdb.Get(ctx, "{sendq}:c:c1:k:0").Bytes()
		require.NoError(t, err)
		require.Less(t, len(chunk), 40*1000, "packed rows, %d B for 1000", len(chunk))
		o, err := p.Status(ctx, producer.CampaignMessageID("c1", tasks.WhatsApp, tasks.Recipient{Phone: "6591000007"}))
		require.NoError(t, err)
		require.Equal(t, "whatsapp", o.Channel, "an unfed row of a campaign of alike rows tells its channel")
		require.Equal(t, "template", o.Kind)
	})

	t.Run("TemplatesDefaultToMarketing", func(t *testing.T) {
		p, b := setup(t)
		msgs := rows(3)
		msgs[1].Template.Category = tasks.Utility
		msgs = append(msgs, tasks.Message{Channel: tasks.Telegram, Kind: tasks.KindText,
			To: tasks.Recipient{ContactID: "c9"}, Text: "hello"})
		_, err := p.StartCampaign(ctx, "c1", msgs, producer.StartOptions{})
		require.NoError(t, err)
		runFeeder(t, b.rdb)
		b.waitPending(t, keys.Queue("whatsapp", true), 3)
		b.waitPending(t, keys.Queue("telegram", true), 1)
		got := map[string]tasks.Category{}
		for _, q := range []string{keys.Queue("whatsapp", true), keys.Queue("telegram", true)} {
			infos, err := b.ins.ListPendingTasks(q)
			require.NoError(t, err)
			for _, info := range infos {
				m, err := tasks.DecodeTask(info.Type, info.Payload)
				require.NoError(t, err)
				got[m.To.Key()] = m.Category()
				if m.Template != nil {
					require.NotEmpty(t, m.Template.Category, "stored, not only read as marketing")
				}
			}
		}
		key := func(m tasks.Message) string {
			m.ID = "x"
			require.NoError(t, m.Validate()) // the stored recipient is the normalised one
			return m.To.Key()
		}
		require.Equal(t, map[string]tasks.Category{
			key(msgs[0]): tasks.Marketing, key(msgs[1]): tasks.Utility,
			key(msgs[2]): tasks.Marketing, key(msgs[3]): tasks.Utility,
		}, got)
	})

	t.Run("ManyChunksReportProgressToTheEnd", func(t *testing.T) {
		p, b := setup(t)
		all := rows(1050) // more than two chunks of look-ups and records
		_, err := p.StartCampaign(ctx, "c1", all[:520], producer.StartOptions{})
		require.NoError(t, err)
		var seen []int
		rep, err := p.StartCampaign(ctx, "c1", all, producer.StartOptions{
			Progress: func(done int) { seen = append(seen, done) }})
		require.NoError(t, err)
		require.Equal(t, 530, rep.Accepted)
		require.Equal(t, 520, rep.Duplicates)
		require.NotEmpty(t, seen)
		require.Equal(t, 1050, seen[len(seen)-1], "the last report counts every row")
		require.IsNonDecreasing(t, seen)
		runFeeder(t, b.rdb)
		b.waitPending(t, keys.Queue("whatsapp", true), 1050)
		c, err := p.CampaignStatus(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, map[producer.State]int{producer.StateQueued: 1050}, c.Counts)
	})

	t.Run("CancelTurnsEveryUnsentMessageCancelled", func(t *testing.T) {
		p, _ := setup(t)
		_, err := p.StartCampaign(ctx, "c1", rows(10), producer.StartOptions{})
		require.NoError(t, err)
		require.NoError(t, p.CancelCampaign(ctx, "c1"))
		c, err := p.CampaignStatus(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, producer.CampaignState("cancelled"), c.State)
		require.Equal(t, map[producer.State]int{producer.StateCancelled: 10}, c.Counts)
		o, err := p.Status(ctx, producer.CampaignMessageID("c1", tasks.WhatsApp, tasks.Recipient{Phone: "6591000000"}))
		require.NoError(t, err)
		require.Equal(t, producer.StateCancelled, o.State)
		_, err = p.StartCampaign(ctx, "c1", rows(10), producer.StartOptions{})
		require.ErrorIs(t, err, producer.ErrCampaignCancelled)
	})

	t.Run("PauseAndResume", func(t *testing.T) {
		p, _ := setup(t)
		_, err := p.StartCampaign(ctx, "c1", rows(3), producer.StartOptions{})
		require.NoError(t, err)
		require.NoError(t, p.PauseCampaign(ctx, "c1"))
		c, _ := p.CampaignStatus(ctx, "c1")
		require.Equal(t, producer.CampaignState("paused"), c.State)
		require.NoError(t, p.ResumeCampaign(ctx, "c1"))
		c, _ = p.CampaignStatus(ctx, "c1")
		require.Equal(t, producer.CampaignState("running"), c.State)
		require.ErrorIs(t, p.PauseCampaign(ctx, "nope"), producer.ErrNotFound)
	})
}
