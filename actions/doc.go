// Package actions turns the analyzer's verdicts into side effects. It owns
// policy -> plan -> execution:
//
//   - Policy says what may be done: dry-run or enforce, strikes before
//     deleting, the per-cycle deletion cap, protected namespaces and the
//     operator's exemptions (Policy.Protected is the one place that decides
//     whether a pod may be touched).
//   - BuildPlan is pure: from one cycle's pod reports and the previous State
//     it decides every step (record, notify, delete, skip_delete) and the next
//     State (strikes, Slack threads).
//   - Executor runs a Plan against small interfaces, one file per side effect:
//     EventRecorder (events.go, Kubernetes Events), Notifier (slack.go),
//     PodDeleter (deletion.go), with StateStore (state.go) persisting State so
//     that a restart or a leader change neither repeats nor forgets an action.
//
// It must not know PromQL or statistics: it reads the numbers the analyzer
// put in its reports and never computes a verdict of its own.
package actions
