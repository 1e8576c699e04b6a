package fake_test

import (
	"testing"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engine/enginetest"
	"github.com/mljob/mljob/internal/engine/fake"
)

func TestConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) engine.Engine { return fake.New("fake", enginetest.Interpret) })
}

func TestLiveProgress(t *testing.T) {
	enginetest.Live(t, func(t *testing.T) engine.Engine { return fake.New("fake", enginetest.Interpret) })
}
