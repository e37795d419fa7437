// The plan rules of eslint.config.mjs alone, without type information, for linting fixture text (lint-rules.spec.ts).
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { configOnlyRule, importResolver, planRules } from '../../eslint.config.mjs';

export default [
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    settings: { 'import-x/resolver-next': [importResolver] },
    plugins: { 'import-x': importX },
    rules: { ...planRules, ...configOnlyRule },
  },
];
