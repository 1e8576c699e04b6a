package sweep

import (
	"errors"
	"slices"
	"strings"

	"github.com/mljob/mljob/internal/prune"
	"gopkg.in/yaml.v3"
)

// filePruner reads the pruner key: a mapping {rule: asha|median|none, and
// that rule's settings (prune.Keys)}, or a scalar in --pruner's form
// ("asha", "median:startupRuns=3"). Settings not given take Optuna's
// defaults (prune.Default). Unknown keys are refused naming the known
// ones, and a value of the wrong type naming its line.
func filePruner(n *yaml.Node) (prune.Rule, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		r, err := prune.ParseFlag(n.Value)
		if err != nil {
			return prune.Rule{}, errf(ErrSyntax, "line %d: pruner: %s", n.Line, pruneReason(err))
		}
		return r, nil
	case yaml.MappingNode:
		return pruneMapping(n)
	}
	return prune.Rule{}, errf(ErrSyntax, "line %d: pruner: want {rule: asha|median, ...settings} or asha, median, none", n.Line)
}

// pruneMapping reads the pruner key's mapping: rule first, then each
// setting, each checked as it is set so that an error names its line.
func pruneMapping(n *yaml.Node) (prune.Rule, error) {
	var kindNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "rule" {
			kindNode = n.Content[i+1]
		}
	}
	if kindNode == nil {
		return prune.Rule{}, errf(ErrSyntax, "line %d: pruner: no rule; add rule: asha or rule: median", n.Line)
	}
	if kindNode.Kind != yaml.ScalarNode || kindNode.Tag != "!!str" {
		return prune.Rule{}, errf(ErrSyntax, "line %d: pruner: rule: want asha, median or none", kindNode.Line)
	}
	r, err := prune.Default(kindNode.Value)
	if err != nil {
		return prune.Rule{}, errf(ErrSyntax, "line %d: pruner: %s", kindNode.Line, pruneReason(err))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "rule" {
			continue
		}
		if err := setPruneKey(&r, k, v); err != nil {
			return prune.Rule{}, err
		}
	}
	return r, nil
}

// setPruneKey sets the pruner setting k to v, refusing a key the rule does
// not take, a value of the wrong YAML type, and one out of range.
func setPruneKey(r *prune.Rule, k, v *yaml.Node) error {
	known := prune.Keys[r.Kind]
	if !slices.Contains(known, k.Value) {
		if len(known) == 0 {
			return errf(ErrSyntax, "line %d: pruner: rule none takes no settings; remove %s", k.Line, k.Value)
		}
		return errf(ErrSyntax, "line %d: pruner: unknown key %s for rule %s (want rule, %s)", k.Line, k.Value, r.Kind, strings.Join(known, ", "))
	}
	if want, ok := pruneKeyType(k.Value, v); !ok {
		return errf(ErrSyntax, "line %d: pruner: %s: want %s, not %q", v.Line, k.Value, want, v.Value)
	}
	if err := r.Set(k.Value, v.Value); err != nil {
		return errf(ErrSyntax, "line %d: pruner: %s", v.Line, pruneReason(err))
	}
	if err := r.Validate(); err != nil {
		return errf(ErrSyntax, "line %d: pruner: %s", v.Line, pruneReason(err))
	}
	return nil
}

// pruneKeyType checks v's YAML type for setting key: series a string,
// reduction, minEarlyStoppingRate and startupRuns whole numbers, minStep
// and warmupSteps numbers. It returns what was wanted.
func pruneKeyType(key string, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		return "a single value", false
	}
	switch key {
	case "series":
		return "a series name", v.Tag == "!!str" || v.Tag == "!!int"
	case "metric":
		return "a metric name", v.Tag == "!!str"
	case "minStep", "warmupSteps":
		return "a number", v.Tag == "!!int" || v.Tag == "!!float"
	}
	return "a whole number", v.Tag == "!!int"
}

// pruneReason is prune's error without its "bad pruner: " prefix, which
// the line and key in front of it make redundant.
func pruneReason(err error) string {
	msg := err.Error()
	if errors.Is(err, prune.ErrBad) {
		msg = strings.TrimPrefix(msg, prune.ErrBad.Error()+": ")
	}
	return msg
}
