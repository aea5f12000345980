package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/migrate/k8s"
)

const migrateRenderK8sHelp = `Writes a Kubernetes Indexed Job (YAML, on stdout) that runs the plan in
--shard-count pods: each runs "mailhaul migrate run PLAN --stage S
--shard-count N" with its shard index from JOB_COMPLETION_INDEX. Kubernetes
retries an index that failed (--backoff-limit-per-index), fails at once an
index that exits with a code no retry changes (4: the users left failed
permanently, 12 TLS, 16 authentication, 64 usage or configuration), and
ignores pods evicted by a disruption. The plan comes from a ConfigMap
(--plan-configmap; its key is PLAN's file name) mounted at ` + k8s.PlanDir + `,
the secrets from a Secret (--secret) at ` + k8s.SecretsDir + `, and state,
leases and archives live on a shared ReadWriteMany claim (--data-claim) at
` + k8s.DataDir + `: the plan must name its paths there. Arguments after --
are added to each pod's migrate run (e.g. -- --retry-failed).

The same without Kubernetes, on hosts sharing the state directory: one
"mailhaul migrate run PLAN --stage S --shard-count N --shard-index I" per
host, or GNU parallel handing out the indexes:
  seq 0 $((N-1)) | parallel --sshloginfile hosts.txt --jobs 1 \
    mailhaul migrate run PLAN --stage full --shard-count N --shard-index {}`

type renderK8sFlags struct {
	o         k8s.Options
	maxFailed int
	requests  []string
	limits    []string
}

func (a *app) migrateRenderCommand() *cobra.Command {
	render := &cobra.Command{
		Use:   "render",
		Short: "Render a plan's run for a scheduler (k8s)",
	}
	var f renderK8sFlags
	cmd := &cobra.Command{
		Use:   "k8s PLAN [-- MIGRATE-RUN-ARGS...]",
		Short: "Write a Kubernetes Indexed Job that runs the plan in shards",
		Long:  migrateRenderK8sHelp,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.migrateRenderK8s(args[0], args[1:], f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.o.Shards, "shard-count", 0, "pods (completions = parallelism); required")
	fl.StringVar(&f.o.Image, "image", "", "an image with mailhaul on its PATH; required")
	fl.StringVar(&f.o.Name, "name", "mailhaul", "the Job's name (a DNS label)")
	fl.StringVar(&f.o.Namespace, "namespace", "", "the Job's namespace")
	fl.StringVar(&f.o.Stage, "stage", "full", "the stage each pod runs: full, delta, export or import")
	fl.StringVar(&f.o.PlanConfigMap, "plan-configmap", "mailhaul-plan", "the ConfigMap holding the plan")
	fl.StringVar(&f.o.Secret, "secret", "", "the Secret with password and token files (optional)")
	fl.StringVar(&f.o.DataClaim, "data-claim", "mailhaul-data", "the ReadWriteMany PersistentVolumeClaim for state, leases and archives")
	fl.IntVar(&f.o.BackoffLimitPerIndex, "backoff-limit-per-index", 3, "retries of an index that failed for a cause a retry may overcome")
	fl.IntVar(&f.maxFailed, "max-failed-indexes", -1, "fail the whole Job once more indexes failed (-1: never early)")
	fl.StringArrayVar(&f.requests, "request", nil, "a container resource request, e.g. cpu=500m or memory=512Mi (repeatable)")
	fl.StringArrayVar(&f.limits, "limit", nil, "a container resource limit, e.g. memory=2Gi (repeatable)")
	render.AddCommand(cmd)
	return render
}

func (a *app) migrateRenderK8s(plan string, extra []string, f renderK8sFlags) error {
	o := f.o
	// The plan is read in the pod, where its secrets and data paths exist;
	// here it only has to be there, and names the ConfigMap's key.
	if fi, err := os.Stat(plan); err != nil || !fi.Mode().IsRegular() {
		return cause.MarkUsage(fmt.Errorf("render k8s: the plan %s is not a readable file", plan))
	}
	o.PlanKey = filepath.Base(plan)
	o.Args = extra
	if f.maxFailed >= 0 {
		o.MaxFailedIndexes = &f.maxFailed
	}
	var err error
	if o.Requests, err = resourceFlags("--request", f.requests); err == nil {
		o.Limits, err = resourceFlags("--limit", f.limits)
	}
	if err == nil {
		if err = k8s.Render(a.stdout, o); err != nil && strings.HasPrefix(err.Error(), "k8s: ") {
			err = cause.MarkUsage(err) // a value k8s.Options refused
		}
	}
	return err
}

// resourceFlags reads NAME=QUANTITY flags (k8s.Render checks them).
func resourceFlags(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, v := range vals {
		k, q, ok := strings.Cut(v, "=")
		if !ok {
			return nil, cause.MarkUsage(fmt.Errorf("%s %q: want NAME=QUANTITY, e.g. memory=512Mi", flag, v))
		}
		m[k] = q
	}
	return m, nil
}
