package fieldcheck

import (
	"strconv"
	"strings"
	"testing"
)

// testDecl declares a script t.py with a field of every kind.
const testDecl = `# Fields of t.py: mljob submit checks jobs against them.
fields:
  learningRate: {type: number, min: 0, exclusiveMin: true, default: 0.001}
  epochs: {type: integer, min: 1, default: 100}
  dropout: {type: number, min: 0, max: 1, exclusiveMax: true}
  seed: {type: integer, min: 0, max: 4294967295}
  optimizer: {type: string, choices: [adam, rmsprop], default: adam}
  lastLayerActivator: {type: string, choices: ["", relu, linear]}
  earlyStopping: {type: boolean, default: false}
  label: {type: string}
  dropColumns: {type: list, default: []}
  dropColumns.*: {type: string}
  hiddenLayers: {type: list}
  hiddenLayers.*: {type: object}
  hiddenLayers.*.activation: {type: string, choices: [relu, tanh, sigmoid]}
  extra: {type: object, free: true}
  extra.known: {type: integer}
  anything: {type: object}
  tags: {type: list}
  a\.b: {type: number}
`

// MustParse parses a declaration of t.py, failing the test on an error.
func MustParse(tb testing.TB, text string) *Decl {
	tb.Helper()
	d, err := Parse("t.fields.yaml", "t.py", []byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestCheck(t *testing.T) {
	d := MustParse(t, testDecl)
	const std = `"scriptName":"t.py","projectName":"p","dataFileName":"d.csv","timeoutSeconds":5,"jobId":1,"assignmentId":2`
	tests := []struct {
		name, job string
		want      []string // each problem's Msg, "?" before an Unknown one
	}{
		{name: "every kind of field, good", job: `{` + std + `,"learningRate":0.1,"epochs":2.0,"dropout":0,"seed":4294967295,
			"optimizer":"ADAM","lastLayerActivator":"","earlyStopping":true,"label":"x","dropColumns":["class"],
			"hiddenLayers":[{"activation":"tanh"},{"activation":"Relu"}],"extra":{"known":3,"mine":[1]},
			"anything":{"x":1},"tags":[1,"a",{}],"a.b":1}`},
		{name: "null is the script's to judge", job: `{"learningRate":null,"optimizer":null,"hiddenLayers":[null]}`},
		{name: "escaped strings and keys", job: `{"optimizer":"\u0061dam","learning\u0052ate":1}`},
		{name: "typo with did-you-mean", job: `{"learningrate":0.5}`,
			want: []string{`?field "learningrate" is not a field of t.py; did you mean "learningRate"?`}},
		{name: "unknown without a near name", job: `{"colour":"red"}`,
			want: []string{`?field "colour" is not a field of t.py`}},
		{name: "unknown inside a list item", job: `{"hiddenLayers":[{"activation":"relu"},{"activaton":"relu"}]}`,
			want: []string{`?field "hiddenLayers.1.activaton" is not a field of t.py; did you mean "hiddenLayers.1.activation"?`}},
		{name: "unknown below a declared object", job: `{"extra":{"knwn":1},"a.c":2}`,
			want: []string{`?field "a\\.c" is not a field of t.py; did you mean "a\\.b"?`}},
		{name: "a standard name misspelt is suggested", job: `{"projectNme":"p"}`,
			want: []string{`?field "projectNme" is not a field of t.py; did you mean "projectName"?`}},
		{name: "unknown container is not walked", job: `{"hiddenLayer":[{"x":1}]}`,
			want: []string{`?field "hiddenLayer" is not a field of t.py; did you mean "hiddenLayers"?`}},
		{name: "not one of the choices", job: `{"hiddenLayers":[{"activation":"relu"},{"activation":"swish"}]}`,
			want: []string{`hiddenLayers.1.activation: "swish" is not one of relu, tanh, sigmoid`}},
		{name: "empty string only where listed", job: `{"optimizer":""}`,
			want: []string{`optimizer: "" is not one of adam, rmsprop`}},
		{name: "a number as a string", job: `{"learningRate":"0.1"}`,
			want: []string{`learningRate: "0.1" is not a number > 0`}},
		{name: "true is not a number", job: `{"dropout":true}`,
			want: []string{`dropout: true is not a number >= 0 and < 1`}},
		{name: "exclusive min", job: `{"learningRate":0}`,
			want: []string{`learningRate: 0 is not a number > 0`}},
		{name: "exclusive max", job: `{"dropout":1}`,
			want: []string{`dropout: 1 is not a number >= 0 and < 1`}},
		{name: "inclusive bounds", job: `{"seed":-1,"epochs":0}`,
			want: []string{`seed: -1 is not a whole number >= 0 and <= 4294967295`, `epochs: 0 is not a whole number >= 1`}},
		{name: "fraction for an integer", job: `{"epochs":2.5}`,
			want: []string{`epochs: 2.5 is not a whole number >= 1`}},
		{name: "infinite number", job: `{"learningRate":1e400}`,
			want: []string{`learningRate: 1e400 is not a number > 0`}},
		{name: "boolean as a string", job: `{"earlyStopping":"yes"}`,
			want: []string{`earlyStopping: "yes" is not true or false`}},
		{name: "list item of the wrong type", job: `{"dropColumns":["a",7]}`,
			want: []string{`dropColumns.1: 7 is not a string`}},
		{name: "container of the wrong type is not walked", job: `{"hiddenLayers":{"activation":"swish"}}`,
			want: []string{`hiddenLayers: {"activation":"swish"} is not a list`}},
		{name: "checked below a free object", job: `{"extra":{"known":"x"}}`,
			want: []string{`extra.known: "x" is not a whole number`}},
		{name: "a long value is cut", job: `{"label":1,"epochs":"` + strings.Repeat("é", 40) + `"}`,
			want: []string{`label: 1 is not a string`, `epochs: "` + strings.Repeat("é", 28) + `… is not a whole number >= 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range d.Check([]byte(tt.job)) {
				msg := p.Msg
				if p.Unknown {
					msg = "?" + msg
				}
				if !strings.HasPrefix(p.Msg, startOf(p)) {
					t.Errorf("problem %q does not start with its path %q", p.Msg, p.Path)
				}
				got = append(got, msg)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Check problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// startOf is how p's message starts: with its path.
func startOf(p Problem) string {
	if p.Unknown {
		return "field " + strconv.Quote(p.Path)
	}
	return p.Path + ": "
}

func TestTally(t *testing.T) {
	var tl Tally
	typo := Problem{Path: "learningrate", Unknown: true, Msg: `field "learningrate" is not a field of t.py`}
	other := Problem{Path: "colour", Unknown: true, Msg: `field "colour" is not a field of t.py`}
	for i := 1; i <= 10000; i++ {
		tl.Add("base.json: sweep job "+strconv.Itoa(i), typo)
	}
	tl.Add("other.json", other)
	got := tl.Warnings()
	want := []string{
		`base.json: sweep job 1 (and 9999 more job(s)): field "learningrate" is not a field of t.py`,
		`other.json: field "colour" is not a field of t.py`,
	}
	if len(got) != len(want) {
		t.Fatalf("Warnings = %+v, want %d", got, len(want))
	}
	for i, w := range got {
		if w.String() != want[i] {
			t.Errorf("warning %d = %q, want %q", i, w.String(), want[i])
		}
	}
	if got[0].Jobs != 10000 {
		t.Errorf("Jobs = %d, want 10000", got[0].Jobs)
	}
}
