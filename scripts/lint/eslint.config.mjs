// ESLint (flat config) for make lint: the operator page (agent/page/, classic browser scripts
// inlined into one document, so each file's top-level functions are globals the other files
// call; each file names what it takes from the others in /* global */ and what it gives in
// /* exported */) and the bench's Node.js relay.
import js from "@eslint/js";
import globals from "globals";

const rules = {
  ...js.configs.recommended.rules,
  eqeqeq: ["error", "always", { null: "ignore" }],
  "no-var": "error",
  "prefer-const": "error",
  "no-unused-vars": ["error", { caughtErrors: "none" }],
};

export default [
  {
    files: ["agent/page/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: globals.browser },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: { ...rules, strict: ["error", "global"] },
  },
  {
    files: ["tests/bench/node-relay/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "commonjs", globals: globals.node },
    rules,
  },
];
