export {
  checkCondition,
  checkTemplate,
  compileExpression,
  evaluateCondition,
  evaluateExpression,
  isTemplate,
  renderDeep,
  renderTemplate,
  stringify,
  templateExpressions,
  type TemplateScope,
} from "./template.js";
