package speculative

import (
	"math"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// defaultShareRefresh is the number of rewards after which a sticky
// Bandit recomputes the shares it routes keyed records by (see
// [WithSticky]).
const defaultShareRefresh = 100

type banditConfig struct {
	discount float64
	minShare float64
	sticky   bool
	detect   bool
	reward   func(res serving.Result, took time.Duration, err error) (float64, bool)
}

// WithChangeDetection makes a Bandit watch each arm's rewards for a change
// of its mean with a two-sided CUSUM test on standardised rewards, and
// start afresh, forgetting every arm, when one fires: the approach of
// CUSUM-UCB (Liu, Lee and Shroff, 2018) and monitored bandits. Unlike
// [WithDiscount] it costs nothing while rewards are stationary, and it
// recovers from a change as fast as the changed arm is pulled: an arm
// that got most of the traffic is caught within a few hundred rewards.
// A change in an arm the policy no longer routes to is seen only through
// the traffic it still gets, which [WithMinShare] guarantees. The
// detector raises a false alarm about once in a million rewards of a
// stationary arm; each reset is counted in [Bandit.Resets]. Beside
// [WithDiscount] it judges each reward against the arm's undiscounted
// rewards since the last fresh start, which the checkpoint
// ([Bandit.MarshalBinary]) keeps, so forgetting does not keep it from
// running. It applies to Bandit only. The default is off.
func WithChangeDetection() BanditOption {
	return banditOpt(func(c *config) error {
		c.bandit.detect = true
		return nil
	})
}

// WithDiscount makes a Bandit forget: before each reward is added, every
// arm's statistics (reward counts and sums; Exp3's log-weights) are
// multiplied by gamma, so that a reward received k rewards ago weighs
// gamma^k, and the policy rests on about 1/(1-gamma) recent rewards. This
// is what lets a Bandit notice that arms changed: discounted Thompson
// sampling (Raj and Kalyani, 2017), discounted UCB (Garivier and
// Moulines, 2011) and Exp3 with forgetting. It applies to Bandit only.
// The default is 1: no forgetting, for stationary rewards; gamma must be
// in (0, 1].
func WithDiscount(gamma float64) BanditOption {
	return banditOpt(func(c *config) error {
		if !(gamma > 0 && gamma <= 1) {
			return configError("WithDiscount(%v): must be in (0, 1]", gamma)
		}
		c.bandit.discount = gamma
		return nil
	})
}

// WithMinShare guarantees each arm of a Bandit at least share of the
// traffic, whatever the policy thinks of it, so that an arm written off
// early is still measured. It applies to Bandit only. The default is 0;
// share times the number of arms must be at most 1.
func WithMinShare(share float64) BanditOption {
	return banditOpt(func(c *config) error {
		if !(share >= 0 && share < 1) || math.IsNaN(share) {
			return configError("WithMinShare(%v): must be in [0, 1)", share)
		}
		c.bandit.minShare = share
		return nil
	})
}

// WithSticky makes a Bandit route each record with a Key as a [Split]
// would, by [KeyHash] over the shares the policy gives the arms, so that
// the same key keeps the same arm while the shares hold. The shares are
// recomputed after every 100 rewards; a change moves
// only the keys near the boundaries that moved. Records without a key are
// routed by a fresh draw of the policy each. It applies to Bandit only.
// The default is not sticky: every record is a fresh draw.
func WithSticky() BanditOption {
	return banditOpt(func(c *config) error {
		c.bandit.sticky = true
		return nil
	})
}

// WithReward sets a function that rewards each scoring call at once, such
// as 1 for an answer within 10ms, 0 otherwise, or an error penalty: fn
// turns the call into a reward for the arm that answered, where res and
// err are what the arm returned and took how long it took, and returns
// ok false when the call earns no reward now (its reward will come later,
// from ground truth, through [Bandit.Reward]). fn runs on the scoring
// path and must be fast and safe for concurrent use. Its rewards are
// refused and counted like those given to Bandit.Reward. It applies to
// Bandit only. The default is none: rewards come only through
// Bandit.Reward.
func WithReward(fn func(res serving.Result, took time.Duration, err error) (reward float64, ok bool)) BanditOption {
	return banditOpt(func(c *config) error {
		if fn == nil {
			return configError("WithReward: nil function")
		}
		c.bandit.reward = fn
		return nil
	})
}
