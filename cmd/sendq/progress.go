package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
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
}

func newProgress(w io.Writer, total int, label string) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total, label: label, start: time.Now()}
}

func (p *progress) set(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = n
	if p.tty {
		if time.Since(p.drawn) < 100*time.Millisecond && n < p.total {
			return
		}
		p.drawn = time.Now()
		fmt.Fprintf(p.w, "\r%s", p.line(n))
		return
	}
	if tenth := n * 10 / max(p.total, 1); tenth > p.tenth {
		p.tenth = tenth
		fmt.Fprintln(p.w, p.line(n))
	}
}

func (p *progress) line(n int) string {
	rate := float64(n) / max(time.Since(p.start).Seconds(), 1e-9)
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
