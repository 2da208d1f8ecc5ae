package benchmarks

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Peak memory is read from the kernel's high-water mark of a process's
// own address space (VmHWM in /proc/PID/status on Linux). The rusage max
// RSS that wait4 reports is not usable here: os/exec starts children with
// clone(CLONE_VFORK|CLONE_VM), and exec records the shared address
// space's high-water mark — the parent's — as the child's, so every child
// of a harness that once held a large DuckDB would report at least that.
// Where /proc is missing, the rusage value (peakRSS) is the fallback.

// procPeakRSS returns VmHWM of process pid ("self" for this one) in bytes,
// or 0 when it cannot be read.
func procPeakRSS(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// peakWatcher samples a running process's VmHWM until stopped. Only the
// sampling goroutine writes peak; stop reads it after that goroutine ended.
type peakWatcher struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak int64
}

// watchPeak starts sampling pid every interval.
func watchPeak(pid int, interval time.Duration) *peakWatcher {
	w := &peakWatcher{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			w.sample(pid)
			select {
			case <-w.done:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *peakWatcher) sample(pid int) {
	// VmHWM only grows, but a sample read as the process exits may fail
	// (0), so keep the largest.
	w.peak = max(w.peak, procPeakRSS(strconv.Itoa(pid)))
}

// stop ends the sampling and returns the largest VmHWM seen (0: none).
func (w *peakWatcher) stop() int64 {
	close(w.done)
	w.wg.Wait()
	return w.peak
}
