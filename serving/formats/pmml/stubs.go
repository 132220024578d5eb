package pmml

func (mc *modelCtx) general() (evaluator, error) {
	return nil, unsupportedf("model element <%s>", mc.n.name)
}
func (mc *modelCtx) neural() (evaluator, error) {
	return nil, unsupportedf("model element <%s>", mc.n.name)
}
func (mc *modelCtx) svm() (evaluator, error) {
	return nil, unsupportedf("model element <%s>", mc.n.name)
}
func (mc *modelCtx) scorecard() (evaluator, error) {
	return nil, unsupportedf("model element <%s>", mc.n.name)
}
