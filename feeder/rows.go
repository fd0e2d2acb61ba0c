package feeder

import (
	"context"
	"errors"
	"fmt"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/rowpack"
	"github.com/sendq/sendq/tasks"
)

// cached is the chunk a campaign is being fed from, decoded.
type cached struct {
	chunk int
	msgs  []tasks.Message
}

// batch is a run of rows read for feeding, and the cursor after it.
type batch struct {
	msgs []*tasks.Message
	next outcome.Cursor
}

// rows reads up to n rows of campaign id from at on, as messages with their
// ids, and the cursor past them; chunks is how many the campaign has.
func (f *Feeder) rows(ctx context.Context, account, id string, at outcome.Cursor, n, chunks int) (batch, error) {
	var b batch
	for len(b.msgs) < n && at.Chunk < chunks {
		c, err := f.chunk(ctx, account, id, at.Chunk)
		if err != nil {
			return b, err
		}
		if at.Row < len(c.msgs) {
			take := min(n-len(b.msgs), len(c.msgs)-at.Row)
			for i := range take {
				m := c.msgs[at.Row+i]
				b.msgs = append(b.msgs, &m)
			}
			at.Row += take
		}
		if at.Row >= len(c.msgs) {
			at = outcome.Cursor{Chunk: at.Chunk + 1}
		}
	}
	b.next = at
	return b, nil
}

// errNoChunk: a chunk the cursor has not passed is gone.
var errNoChunk = errors.New("feeder: a campaign's chunk of rows is missing")

// chunk returns campaign id's chunk number n, decoded, from the cache or
// from Redis.
func (f *Feeder) chunk(ctx context.Context, account, id string, n int) (*cached, error) {
	key := account + "\x00" + id
	f.mu.Lock()
	c := f.cache[key]
	f.mu.Unlock()
	if c != nil && c.chunk == n {
		return c, nil
	}
	data, err := f.store.RowChunk(ctx, account, id, n)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("%w: campaign %s, chunk %d", errNoChunk, id, n)
	}
	bi, _, err := rowpack.Header(data)
	if err != nil {
		return nil, fmt.Errorf("feeder: campaign %s chunk %d: %w", id, n, err)
	}
	base, err := f.store.CampaignBase(ctx, account, id, bi)
	if err != nil {
		return nil, err
	}
	msgs, err := rowpack.Decode(data, base, 0, maxChunkRows)
	if err != nil {
		return nil, fmt.Errorf("feeder: campaign %s chunk %d: %w", id, n, err)
	}
	for i := range msgs {
		m := &msgs[i]
		m.Campaign, m.Account = id, account
		m.ID = rowpack.MessageID(id, rowpack.Member(m.Channel, m.To))
	}
	c = &cached{chunk: n, msgs: msgs}
	f.mu.Lock()
	f.cache[key] = c
	f.mu.Unlock()
	return c, nil
}

// maxChunkRows bounds the rows decoded from one chunk (a start writes far
// fewer).
const maxChunkRows = 1 << 20

// forget drops what the feeder keeps of a campaign.
func (f *Feeder) forget(account, id string) {
	f.mu.Lock()
	delete(f.cache, account+"\x00"+id)
	f.mu.Unlock()
}
