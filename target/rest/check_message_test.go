package rest_test

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target/fake"
)

func TestCheck_RejectedCredentialsNameTheCheckOnce(t *testing.T) {
	_, _, c := restPlatform(t, fake.StylePPO, "ppo.yaml", "right-key", map[string]string{"PPO_API_KEY": "wrong-key"}, true, true)
	err := c.Check(ctx)
	if err == nil || strings.Count(err.Error(), "rest check") != 1 || !strings.Contains(err.Error(), "check target.token") {
		t.Errorf("want one \"rest check\" and a hint in %v", err)
	}
}
