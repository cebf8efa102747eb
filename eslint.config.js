// ESLint flat config: typescript-eslint with type information. Formatting is Prettier's
// (`npm run format:check`), so no stylistic rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'coverage/**', 'dist/**', '**/*.d.ts', 'test/aws/support/lambda-runner.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.cjs', 'test/support/*.cjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'smart'],
      // a variable a closure reads before its one assignment cannot be const
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Sizes (issue 12): a file says one thing, a function does one step.
    files: ['lib/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }] },
  },
  {
    files: ['lib/{modules,platform,recovery}/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: false, skipComments: false }] },
  },
  {
    // Kysely's migration pattern: a migration must not depend on today's schema type. A
    // released migration is never edited (ARCHITECTURE.md), so its `up` keeps its length.
    files: ['lib/platform/sql/migrations.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'max-lines-per-function': 'off' },
  },
  {
    // The store rule: in every module, store.ts (and store-<concern>.ts, when it grows) is the
    // only code that builds SQL on the module's tables (ARCHITECTURE.md); other modules call its service.
    files: ['lib/modules/**'],
    ignores: ['**/store.ts', '**/store-*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression > MemberExpression.callee > Identifier.property[name=/^(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)$/]',
          message: "only store.ts touches the module's tables — see ARCHITECTURE.md",
        },
        {
          selector: "TaggedTemplateExpression[tag.name='sql']",
          message: "only store.ts touches the module's tables — see ARCHITECTURE.md",
        },
      ],
    },
  },
  {
    // Tests read synthesized templates and loose JSON replies, and assert on them.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // plain-JavaScript entry points and the build script (bin/aegis.js, scripts/build.mjs)
    files: ['bin/*.js', 'scripts/*.mjs'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
