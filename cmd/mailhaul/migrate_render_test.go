package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/mailhaul/mailhaul/internal/cause"
)

// The command's flags reach the Job (the Job's own rules are migrate/k8s's
// tests): shards, image, stage, the plan's key, the arguments after --,
// resources, and FailIndex on every exit code no retry changes.
func TestMigrateRenderK8s(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"night.toml": "# the plan\n"})
	plan := filepath.Join(dir, "night.toml")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"migrate", "render", "k8s", plan, "--shard-count", "6", "--image", "reg.example.org/mailhaul:1",
		"--stage", "delta", "--name", "cutover", "--secret", "mh-secrets", "--max-failed-indexes", "2", "--request", "memory=512Mi",
		"--", "--retry-failed"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	var j batchv1.Job
	if err := yaml.UnmarshalStrict(out.Bytes(), &j); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := j.Spec
	c := s.Template.Spec.Containers[0]
	wantArgs := []string{"migrate", "run", "/etc/mailhaul/plan/night.toml", "--stage", "delta", "--shard-count", "6", "--retry-failed"}
	if j.Name != "cutover" || *s.Completions != 6 || *s.Parallelism != 6 || *s.MaxFailedIndexes != 2 || *s.BackoffLimitPerIndex != 3 ||
		c.Image != "reg.example.org/mailhaul:1" || !slices.Equal(c.Args, wantArgs) || c.Resources.Requests.Memory().String() != "512Mi" ||
		s.Template.Spec.Volumes[2].Secret.SecretName != "mh-secrets" {
		t.Errorf("the flags did not reach the Job:\n%s", out.String())
	}
	var want []int32
	for _, code := range cause.NotRetried {
		want = append(want, int32(code))
	}
	if got := s.PodFailurePolicy.Rules[0].OnExitCodes.Values; !slices.Equal(got, want) {
		t.Errorf("FailIndex on %v, want %v", got, want)
	}

	// A wrong value is a usage error, named; no YAML is written.
	for _, args := range [][]string{
		{"migrate", "render", "k8s", plan, "--image", "x"},                                            // no --shard-count
		{"migrate", "render", "k8s", plan, "--shard-count", "2", "--image", "x", "--name", "Night_1"}, // not a DNS label
		{"migrate", "render", "k8s", plan, "--shard-count", "2", "--image", "x", "--limit", "memory"},
		{"migrate", "render", "k8s", filepath.Join(dir, "missing.toml"), "--shard-count", "2", "--image", "x"},
	} {
		out.Reset()
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != exitUsage || out.Len() != 0 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want %d, the reason, no YAML", args[3:], code, out.String(), errOut.String(), exitUsage)
		}
	}
}
