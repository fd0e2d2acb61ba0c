package producer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/rowpack"
	"github.com/sendq/sendq/tasks"
)

// chunkRows is how many rows a start looks up and stores in one round trip
// (one chunk of packed rows).
const chunkRows = 1000

// rowItem is a row ready to store: its message and its member.
type rowItem struct {
	m      tasks.Message
	member [rowpack.MemberSize]byte
}

// rowStore is one start's storing of rows, in two stages running at once:
// add (the caller's goroutine) prepares each row and drops the recipients
// that stand earlier in the file; the writer looks up which of a chunk's
// recipients an earlier start stored, packs the rest and stores them.
type rowStore struct {
	p       *Producer
	ctx     context.Context
	cancel  context.CancelFunc
	account string
	id      string
	opt     StartOptions
	// created is when the start began: every row of it was accepted then.
	// One time for all keeps the rows alike (a row whose CreatedAt differs
	// from its base's would be packed whole, see rowpack).
	created time.Time
	seen    map[[rowpack.MemberSize]byte]struct{}
	batch   []rowItem
	out     chan []rowItem
	wg      sync.WaitGroup

	stored, dups int          // the writer's (read after it ends)
	inFile       atomic.Int64 // duplicates within the file, add's

	mu  sync.Mutex
	err error // the first failure

	// The writer's, once the first chunk opened the campaign.
	opened      bool
	token       string
	stopRefresh func()
	rs          outcome.RowsStart
	w           *rowpack.Writer
}

func newRowStore(ctx context.Context, p *Producer, account, id string, opt StartOptions) *rowStore {
	ctx, cancel := context.WithCancel(ctx)
	s := &rowStore{p: p, ctx: ctx, cancel: cancel, account: account, id: id, opt: opt, created: p.now(),
		seen: map[[rowpack.MemberSize]byte]struct{}{}, out: make(chan []rowItem, 4)}
	s.wg.Go(s.write)
	return s
}

func (s *rowStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		s.cancel()
	}
}

func (s *rowStore) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// add takes one row: it becomes the campaign's message (validated again,
// so that any RowSource is safe) and joins the chunk being gathered.
func (s *rowStore) add(r Row) error {
	if err := s.firstErr(); err != nil {
		return err
	}
	m := r.Message
	m.Campaign, m.Account = s.id, s.account
	if m.Template != nil && m.Template.Category == "" {
		t := *m.Template
		t.Category = tasks.Marketing
		m.Template = &t
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.created
	}
	m.ID = "campaign-row" // the real id needs the normalised recipient
	if err := m.Validate(); err != nil {
		return fmt.Errorf("line %d: %w", r.Line, err)
	}
	member := rowpack.Member(m.Channel, m.To)
	if _, dup := s.seen[member]; dup {
		s.inFile.Add(1)
		return nil
	}
	s.seen[member] = struct{}{}
	m.ID = rowpack.MessageID(s.id, member)
	s.batch = append(s.batch, rowItem{m: m, member: member})
	if len(s.batch) == chunkRows {
		return s.send()
	}
	return nil
}

// send hands the gathered chunk to the writer.
func (s *rowStore) send() error {
	select {
	case s.out <- s.batch:
		s.batch = make([]rowItem, 0, chunkRows)
		return nil
	case <-s.ctx.Done():
		return s.firstErr()
	}
}

// close stores what is left, ends the start (every row is stored: the
// campaign can be done once all are sent) and gives the lock back.
func (s *rowStore) close() error {
	var err error
	if len(s.batch) > 0 {
		err = s.send()
	}
	close(s.out)
	s.wg.Wait()
	defer s.cancel()
	s.dups += int(s.inFile.Load())
	if err == nil {
		err = s.firstErr()
	}
	if !s.opened {
		return err
	}
	bg := context.WithoutCancel(s.ctx)
	defer s.p.outcomes.UnlockCampaign(bg, s.account, s.id, s.token)
	s.stopRefresh()
	if err != nil {
		return err
	}
	if err := s.p.outcomes.CampaignEnqueued(bg, s.account, s.id); err != nil {
		return err
	}
	return s.p.outcomes.MarkFeeding(bg, s.account)
}

// write is the writer stage.
func (s *rowStore) write() {
	for batch := range s.out {
		if s.ctx.Err() != nil {
			continue // a failure: drain
		}
		if err := s.writeChunk(batch); err != nil {
			s.fail(err)
		}
	}
}

// writeChunk stores one chunk's rows that no earlier start stored.
func (s *rowStore) writeChunk(batch []rowItem) error {
	if !s.opened {
		if err := s.open(&batch[0].m); err != nil {
			return err
		}
	}
	members := make([][rowpack.MemberSize]byte, len(batch))
	for i := range batch {
		members[i] = batch[i].member
	}
	known, err := s.p.outcomes.KnownMembers(s.ctx, s.account, s.id, members)
	if err != nil {
		return err
	}
	members = members[:0]
	for i := range batch {
		if known[i] {
			s.dups++
			continue
		}
		if err := s.w.Add(&batch[i].m); err != nil {
			return err
		}
		members = append(members, batch[i].member)
	}
	if len(members) > 0 {
		whole := s.w.Whole()
		if err := s.p.outcomes.AppendRows(s.ctx, s.account, s.id, &s.rs, s.w.Chunk(), members, whole, s.p.now()); err != nil {
			return err
		}
		if s.stored == 0 {
			if err := s.p.outcomes.MarkFeeding(s.ctx, s.account); err != nil {
				return err
			}
		}
		s.stored += len(members)
	}
	if s.opt.Progress != nil {
		s.opt.Progress(s.stored + s.dups + int(s.inFile.Load()))
	}
	return nil
}

// open takes the campaign's lock and opens it for this start, whose rows
// share first's base.
func (s *rowStore) open(first *tasks.Message) error {
	token := NewID()
	if err := s.p.lockCampaign(s.ctx, s.account, s.id, token, s.opt.WaitLock); err != nil {
		return err
	}
	s.opened, s.token = true, token
	s.stopRefresh = s.p.refreshLock(s.ctx, s.account, s.id, token)
	now := s.p.now()
	if err := s.p.outcomes.OpenCampaign(s.ctx, s.account, s.id, now); err != nil {
		return err
	}
	at := first.NotBefore
	if !at.After(now) {
		at = time.Time{}
	}
	rs, err := s.p.outcomes.BeginRows(s.ctx, s.account, s.id, *first, at)
	if err != nil {
		return err
	}
	s.rs, s.w = rs, rowpack.NewWriter(*first, rs.Base)
	return nil
}
