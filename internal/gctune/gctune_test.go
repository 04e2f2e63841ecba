package gctune

import (
	"runtime"
	"testing"
)

func TestPercent_BoundsTheGrowthToTheHeadroom(t *testing.T) {
	for _, tc := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 64 << 20, 50},          // nothing live yet: the share
		{40 << 20, 64 << 20, 50},   // small heap: the share is smaller than the headroom
		{200 << 20, 64 << 20, 32},  // large heap: grows by the headroom only
		{2000 << 20, 64 << 20, 10}, // very large: the floor
	} {
		if got := Percent(tc.live, tc.headroom, 10, 50); got != tc.want {
			t.Errorf("Percent(%d MB live, %d MB) = %d, want %d", tc.live>>20, tc.headroom>>20, got, tc.want)
		}
	}
}

// TestTuner_LowersThePercentageAsTheLiveHeapGrows: with 256 MB live and a
// headroom of 32 MB, the collections after it set about 12 %.
func TestTuner_LowersThePercentageAsTheLiveHeapGrows(t *testing.T) {
	tu := Start(50, 32<<20, 5)
	defer tu.Stop()
	live := make([][]byte, 256)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	// A finalizer runs after the collection that found its object
	// unreachable; two collections are enough for the tuner to see the heap.
	for range 3 {
		runtime.GC()
		runtime.Gosched()
	}
	for i := 0; tu.Current() == 50 && i < 100; i++ {
		runtime.GC()
	}
	if got := tu.Current(); got < 5 || got > 13 {
		t.Errorf("GC percentage %d with 256 MB live and 32 MB headroom, want about 12", got)
	}
	runtime.KeepAlive(live)
}
