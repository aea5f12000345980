package k8s_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/mailhaul/mailhaul/migrate/k8s"
)

func ExampleRender() {
	var buf bytes.Buffer
	err := k8s.Render(&buf, k8s.Options{
		Name: "night", Image: "registry.example.org/mailhaul:1.4.0",
		Shards: 8, Stage: "full", PlanConfigMap: "plan", Secret: "secrets", DataClaim: "mailhaul-data",
		BackoffLimitPerIndex: 3,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, "completion") || strings.Contains(line, "parallelism") || strings.Contains(line, "Policy:") {
			fmt.Println(strings.TrimSpace(line))
		}
	}
	// Output:
	// completionMode: Indexed
	// completions: 8
	// parallelism: 8
	// podFailurePolicy:
	// podReplacementPolicy: Failed
	// restartPolicy: Never
}
