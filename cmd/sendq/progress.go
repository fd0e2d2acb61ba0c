package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress shows how far a long operation has got: a bar redrawn in place on
// a terminal, a plain line every tenth otherwise (logs and pipes).
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	total int
	label string
	last  int
	tenth int
	start time.Time
	drawn time.Time
	// size and read measure a file read as it goes, when the total is not
	// known: the bar then shows the share of the file read.
	size int64
	read atomic.Int64
}

// bytes makes the bar show how much of a file of size bytes is read (see
// countingReader), for a total not known ahead.
func (p *progress) bytes(size int64) { p.size = size }

// countingReader counts what is read for a progress.
type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.read.Add(int64(n))
	return n, err
}

// permille is how far the operation has got, in thousandths.
func (p *progress) permille(n int) int {
	if p.size > 0 {
		return int(p.read.Load() * 1000 / p.size)
	}
	return n * 1000 / max(p.total, 1)
}

func newProgress(w io.Writer, total int, label string) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total, label: label, start: time.Now()}
}

func (p *progress) set(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = n
	if p.tty {
		if time.Since(p.drawn) < 100*time.Millisecond && p.permille(n) < 1000 {
			return
		}
		p.drawn = time.Now()
		fmt.Fprintf(p.w, "\r%s", p.line(n))
		return
	}
	if tenth := p.permille(n) / 100; tenth > p.tenth {
		p.tenth = tenth
		fmt.Fprintln(p.w, p.line(n))
	}
}

func (p *progress) line(n int) string {
	rate := float64(n) / max(time.Since(p.start).Seconds(), 1e-9)
	if p.size > 0 {
		pm := min(p.permille(n), 1000)
		return fmt.Sprintf("%s %d%% of the file, %d %s (%.0f/s)", bar(pm, 1000)[:32], pm/10, n, p.label, rate)
	}
	return fmt.Sprintf("%s %s (%.0f/s)", bar(n, p.total), p.label, rate)
}

// bar draws n of total as "[#####.....] n/total".
func bar(n, total int) string {
	const width = 30
	filled := 0
	if total > 0 {
		filled = min(max(n, 0)*width/total, width)
	}
	return fmt.Sprintf("[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, total)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\n", p.line(p.last))
	}
}
