package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// metric is one row of the table.
type metric struct {
	Key   string `json:"key"`   // stable id, e.g. "cycle.create"
	Label string `json:"label"` // what the row shows
	Unit  string `json:"unit"`  // "ms", "s", "MiB" or "count"
}

// cell holds one runtime's samples for one metric, or why it has none.
type cell struct {
	Samples []float64 `json:"samples"`
	Median  float64   `json:"median"`
	P90     float64   `json:"p90"`
	Error   string    `json:"error,omitempty"` // the runtime failed this case
	NA      string    `json:"na,omitempty"`    // the runtime was not measured
}

type row struct {
	Metric metric           `json:"metric"`
	Cells  map[string]*cell `json:"cells"`
}

// results is the table, rows in the order the cases declared them.
type results struct {
	runtimes []string
	rows     []*row
	byKey    map[string]*row
}

func newResults(runtimes []string) *results {
	return &results{runtimes: runtimes, byKey: map[string]*row{}}
}

func (rs *results) declare(ms ...metric) {
	for _, m := range ms {
		if _, ok := rs.byKey[m.Key]; ok {
			continue
		}
		r := &row{Metric: m, Cells: map[string]*cell{}}
		for _, rt := range rs.runtimes {
			r.Cells[rt] = &cell{}
		}
		rs.rows = append(rs.rows, r)
		rs.byKey[m.Key] = r
	}
}

func (rs *results) cell(key, rt string) *cell {
	r, ok := rs.byKey[key]
	if !ok {
		panic(fmt.Sprintf("metric %q used but not declared", key))
	}
	return r.Cells[rt]
}

func (rs *results) add(key, rt string, v float64) {
	c := rs.cell(key, rt)
	c.Samples = append(c.Samples, v)
}

// markAll sets err or na on every metric in keys for runtime rt.
func (rs *results) markAll(keys []metric, rt, errMsg, na string) {
	for _, m := range keys {
		c := rs.cell(m.Key, rt)
		if c == nil {
			continue // not a column of this table
		}
		if errMsg != "" && c.Error == "" {
			c.Error = errMsg
		}
		if na != "" && c.NA == "" {
			c.NA = na
		}
	}
}

// finish computes the summary statistics of every cell.
func (rs *results) finish() {
	for _, r := range rs.rows {
		for _, c := range r.Cells {
			c.Median = quantile(c.Samples, 0.5)
			c.P90 = quantile(c.Samples, 0.9)
		}
	}
}

// quantile interpolates linearly between closest ranks; NaN when empty.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// text is what a cell prints: median (p90), or why there is no number.
func (c *cell) text(unit string) string {
	switch {
	case c.NA != "":
		return "n/a"
	case c.Error != "":
		return "FAIL"
	case len(c.Samples) == 0:
		return "-"
	}
	switch unit {
	case "ms":
		return fmt.Sprintf("%.1f ms (%.1f)", c.Median, c.P90)
	case "s":
		return fmt.Sprintf("%.2f s (%.2f)", c.Median, c.P90)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", c.Median)
	default:
		return fmt.Sprintf("%.0f", c.Median)
	}
}

func (c *cell) ok() bool {
	return c.NA == "" && c.Error == "" && len(c.Samples) > 0 && c.Median > 0
}

// writeTable prints rows x runtimes as a Markdown table, then
// subject/other ratios of medians.
func (rs *results) writeTable(w io.Writer, subject string) {
	others := rs.others(subject)
	hdr := append([]string{"median (p90)"}, rs.runtimes...)
	for _, o := range others {
		hdr = append(hdr, subject+"/"+o)
	}
	fmt.Fprintln(w, "| "+strings.Join(hdr, " | ")+" |")
	fmt.Fprintln(w, strings.Repeat("|---", len(hdr))+"|")
	for _, r := range rs.rows {
		line := []string{r.Metric.Label}
		for _, rt := range rs.runtimes {
			line = append(line, r.Cells[rt].text(r.Metric.Unit))
		}
		for _, o := range others {
			line = append(line, ratio(r.Cells[subject], r.Cells[o]))
		}
		fmt.Fprintln(w, "| "+strings.Join(line, " | ")+" |")
	}
}

func (rs *results) others(subject string) []string {
	has := false
	var others []string
	for _, rt := range rs.runtimes {
		if rt == subject {
			has = true
		} else {
			others = append(others, rt)
		}
	}
	if !has {
		return nil
	}
	return others
}

func ratio(a, b *cell) string {
	if a == nil || b == nil || !a.ok() || !b.ok() {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a.Median/b.Median)
}

// writeNotes lists every failure and n/a reason once per runtime and error.
func (rs *results) writeNotes(w io.Writer) {
	seen := map[string]bool{}
	for _, r := range rs.rows {
		for _, rt := range rs.runtimes {
			c := r.Cells[rt]
			var note string
			switch {
			case c.NA != "":
				note = fmt.Sprintf("%s: n/a: %s", rt, c.NA)
			case c.Error != "":
				note = fmt.Sprintf("%s: FAIL %s: %s", rt, r.Metric.Label, c.Error)
			}
			if note == "" || seen[rt+c.NA+c.Error] {
				continue
			}
			seen[rt+c.NA+c.Error] = true
			fmt.Fprintln(w, "  "+note)
		}
	}
}
