// dstack schema [--type TYPE]: the JSON Schema of `.dstack.yml` files for editors. With
// yaml-language-server (VS Code's YAML extension and others):
//   dstack schema > .dstack.schema.json
//   and in the editor's settings: "yaml.schemas": { "./.dstack.schema.json": "*.dstack.yml" }
//   or on the first line of a file: # yaml-language-server: $schema=./.dstack.schema.json
import { Option, type Command } from 'commander';

export function register(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of configuration files (for yaml-language-server in editors)')
    .addOption(new Option('--type <TYPE>', 'only this configuration type').choices(['dev-environment', 'fleet']))
    .action(async (opts: { type?: 'dev-environment' | 'fleet' }) => {
      const { configurationJsonSchema } = await import('@dstack/core/config/index');
      process.stdout.write(`${JSON.stringify(configurationJsonSchema(opts.type), null, 2)}\n`);
    });
}
