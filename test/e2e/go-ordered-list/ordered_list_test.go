// Ordered-list state of element coders that are not length-prefixed on their own (int64 is a
// varint, float64 a double, bool one byte): Go's harness appends varint(sort key) followed by the
// value encoded with the state's coder from the bundle descriptor, so the runner must declare
// that coder length-prefixed for the entries to be what the Fn API says. Beam's own
// TestOrderedListState uses an int, which the Go SDK already encodes with a length-prefixed
// custom coder. Built and run by test/e2e/go-user-state.test.ts, against our job endpoint.
package orderedlist

import (
	"fmt"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func init() {
	register.DoFn3x1[state.Provider, string, int, string](&orderedListCodersFn{})
	register.Function2x0(pairWithOne)
	register.Emitter2[string, int]()
}

func pairWithOne(w string, emit func(string, int)) { emit(w, 1) }

type orderedListCodersFn struct {
	Ints   state.OrderedList[int64]
	Floats state.OrderedList[float64]
	Bools  state.OrderedList[bool]
}

// Each element reads what the earlier elements of its key left, then adds entries whose sort keys
// descend (ints, floats) as the elements arrive, so every new entry sorts before the older ones.
// The third element of a key also clears the ints of sort keys [90, 101): the first two entries.
func (f *orderedListCodersFn) ProcessElement(s state.Provider, w string, _ int) string {
	ints, _, err := f.Ints.Read(s)
	if err != nil {
		panic(err)
	}
	floats, _, err := f.Floats.ReadRange(s, -20, 0)
	if err != nil {
		panic(err)
	}
	bools, _, err := f.Bools.Read(s)
	if err != nil {
		panic(err)
	}
	n := int64(len(bools))
	if err := f.Ints.Add(s, 100-10*n, n+1); err != nil {
		panic(err)
	}
	if err := f.Floats.Add(s, -10*(n+1), float64(n+1)/2); err != nil {
		panic(err)
	}
	if err := f.Bools.Add(s, n, n%2 == 0); err != nil {
		panic(err)
	}
	if n == 2 {
		if err := f.Ints.ClearRange(s, 90, 101); err != nil {
			panic(err)
		}
	}
	return fmt.Sprintf("%s: %v %v %v", w, values(ints), values(floats), values(bools))
}

func values[T any](entries []state.OrderedListValue[T]) []T {
	out := []T{}
	for _, e := range entries {
		out = append(out, e.Value)
	}
	return out
}

func TestMain(m *testing.M) {
	ptest.Main(m)
}

func TestOrderedListStateCoders(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	in := beam.Create(s, "apple", "pear", "apple", "apple", "pear", "apple")
	out := beam.ParDo(s, &orderedListCodersFn{}, beam.ParDo(s, pairWithOne, in))
	passert.Equals(s, out,
		"apple: [] [] []", "apple: [1] [0.5] [true]", "apple: [2 1] [1 0.5] [true false]", "apple: [3] [1 0.5] [true false true]",
		"pear: [] [] []", "pear: [1] [0.5] [true]")
	ptest.RunAndValidate(t, p)
}
