package pyexec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadJob(t *testing.T) {
	good := []struct {
		name, spec string
		want       JobFields
	}{
		{"minimal", `{"scriptName":"nn.py","projectName":"wine"}`, JobFields{Script: "nn.py", Project: "wine"}},
		{"all", `{"scriptName":"nn.py","projectName":"wine data","dataFileName":"w.csv","timeoutSeconds":1.5,"x":{"y":[{"a":1},{"a":2}]}}`,
			JobFields{Script: "nn.py", Project: "wine data", DataFile: "w.csv", Timeout: 1500 * time.Millisecond}},
		{"nulls are absent", `{"scriptName":"nn.py","projectName":"p","dataFileName":null,"timeoutSeconds":null}`, JobFields{Script: "nn.py", Project: "p"}},
		{"escaped key", `{"script\u004eame":"nn.py","projectName":"p"}`, JobFields{Script: "nn.py", Project: "p"}},
		{"same key in sibling objects", `{"scriptName":"nn.py","projectName":"p","a":{"k":1},"b":{"k":1}}`, JobFields{Script: "nn.py", Project: "p"}},
		{"artifacts", `{"scriptName":"nn.py","projectName":"p","artifacts":["*.pt","plots/*.png"],"artifactsCap":"10MB"}`,
			JobFields{Script: "nn.py", Project: "p", Artifacts: []string{"*.pt", "plots/*.png"}, ArtifactsCap: 10e6}},
		{"artifacts cap in bytes", `{"scriptName":"nn.py","projectName":"p","artifactsCap":4096}`, JobFields{Script: "nn.py", Project: "p", ArtifactsCap: 4096}},
		{"two gpus", `{"scriptName":"nn.py","projectName":"p","gpus":2}`, JobFields{Script: "nn.py", Project: "p", GPUs: 2}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadJob([]byte(tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadJob = %+v, want %+v", got, tt.want)
			}
		})
	}
	bad := []struct{ name, spec, key, msg string }{
		{"case variant", `{"projectName":"dup","scriptName":"echo.py","SCRIPTNAME":"whoami.py"}`, "SCRIPTNAME", `differs from "scriptName" only by case`},
		{"case variant alone", `{"projectName":"dup","ScriptName":"echo.py"}`, "ScriptName", "only by case"},
		{"long s folds to s", `{"projectName":"p","scriptName":"e.py","timeout\u017feconds":2}`, "", "only by case"},
		{"duplicate", `{"projectName":"p","scriptName":"a.py","scriptName":"b.py"}`, "scriptName", `key "scriptName" appears twice`},
		{"duplicate nested", `{"projectName":"p","scriptName":"a.py","o":{"a":[{"x":1,"x":1}]}}`, "o.a.0.x", `appears twice in o.a.0`},
		{"timeout string", `{"projectName":"p","scriptName":"a.py","timeoutSeconds":"3"}`, "timeoutSeconds", `must be a number of seconds, not a JSON string`},
		{"timeout zero", `{"projectName":"p","scriptName":"a.py","timeoutSeconds":0}`, "timeoutSeconds", "above 0"},
		{"artifacts escape", `{"projectName":"p","scriptName":"a.py","artifacts":["../*"]}`, "artifacts", "leaves the run dir"},
		{"artifacts absolute", `{"projectName":"p","scriptName":"a.py","artifacts":["/etc/*"]}`, "artifacts", "is absolute"},
		{"artifacts not an array", `{"projectName":"p","scriptName":"a.py","artifacts":"*.pt"}`, "artifacts", "want an array of globs"},
		{"artifacts cap bad", `{"projectName":"p","scriptName":"a.py","artifactsCap":"lots"}`, "artifactsCap", "want a number of bytes"},
		{"gpus zero", `{"projectName":"p","scriptName":"a.py","gpus":0}`, "gpus", "from 1 to 64"},
		{"gpus fraction", `{"projectName":"p","scriptName":"a.py","gpus":1.5}`, "gpus", "whole number"},
		{"gpus string", `{"projectName":"p","scriptName":"a.py","gpus":"2"}`, "gpus", "must be a whole number of GPUs, not a JSON string"},
		{"timeout huge", `{"projectName":"p","scriptName":"a.py","timeoutSeconds":1e400}`, "timeoutSeconds", "at most"},
		{"timeout bool", `{"projectName":"p","scriptName":"a.py","timeoutSeconds":true}`, "timeoutSeconds", "not a JSON boolean"},
		{"script number", `{"projectName":"p","scriptName":7}`, "scriptName", `"scriptName" must be a string, not a JSON number`},
		{"project missing", `{"scriptName":"a.py"}`, "projectName", "is missing"},
		{"reserved data", `{"projectName":"p","scriptName":"a.py","dataFileName":"stderr"}`, "dataFileName", "mljob writes in every run dir"},
		{"reserved script", `{"projectName":"p","scriptName":"exit_code.tmp"}`, "scriptName", "mljob writes in every run dir"},
		{"data is script", `{"projectName":"p","scriptName":"a.py","dataFileName":"a.py"}`, "dataFileName", "the script's name"},
		{"project control", `{"projectName":"a\tb","scriptName":"a.py"}`, "projectName", "U+0009"},
		{"project long", `{"projectName":"` + strings.Repeat("é", 51) + `","scriptName":"a.py"}`, "projectName", "102 bytes"},
		{"not an object", `[1]`, "", "JSON object"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadJob([]byte(tt.spec))
			var ce *ContractError
			if !errors.As(err, &ce) {
				t.Fatalf("ReadJob error = %v, want a *ContractError", err)
			}
			if tt.key != "" && ce.Key != tt.key {
				t.Errorf("Key = %q, want %q", ce.Key, tt.key)
			}
			if !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", ce.Msg, tt.msg)
			}
		})
	}
}

func TestJobTimeout(t *testing.T) {
	tests := []struct {
		spec string
		want time.Duration
	}{
		{`{"timeoutSeconds": 2.5}`, 2500 * time.Millisecond},
		{`{"timeoutSeconds": "3"}`, 0},
		{`{"TimeoutSeconds": 3}`, 0}, // exact keys only
		{`{"timeoutSeconds": -1}`, 0},
		{`{"timeoutSeconds": 1e300}`, 0},
		{`{}`, 0},
		{`not json`, 0},
	}
	for _, tt := range tests {
		if got := JobTimeout([]byte(tt.spec)); got != tt.want {
			t.Errorf("JobTimeout(%s) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}
