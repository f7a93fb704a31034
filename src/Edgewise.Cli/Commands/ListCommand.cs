using System.CommandLine;
using System.Text.Json;
using Edgewise.Hub;
using Spectre.Console;

namespace Edgewise.Cli.Commands;

internal static class ListCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the installed models as a JSON array (repository, file, revision, commit, size, sha256, pulledAt, path)." };
        var command = new Command("list", "List the models in the local store (EDGEWISE_HOME or ~/.edgewise).");
        command.Aliases.Add("ls");
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            var models = new ModelStore(hub: null).List();
            if (parse.GetValue(json))
            {
                WriteJson(models);
            }
            else if (models.Count == 0)
            {
                Console.WriteLine($"No models in {ModelStoreOptions.DefaultRoot()}. Try `edgewise pull {ModelAliases.Entries[0].Name}`.");
            }
            else if (Console.IsOutputRedirected)
            {
                foreach (var m in models)
                {
                    Console.WriteLine($"{Name(m)}\t{m.File}\t{m.Size}\t{m.PulledAt:yyyy-MM-dd HH:mm}\t{m.Path}");
                }
            }
            else
            {
                var table = new Table().AddColumns("MODEL", "FILE", "SIZE", "PULLED", "COMMIT");
                foreach (var m in models)
                {
                    table.AddRow(Markup.Escape(Name(m)), Markup.Escape(m.File), PullCommand.FormatSize(m.Size), m.PulledAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm"), m.Commit[..Math.Min(12, m.Commit.Length)]);
                }
                AnsiConsole.Write(table);
            }
            return 0;
        });
        return command;
    }

    private static string Name(InstalledModel m) => m.Alias ?? m.Repository;

    private static void WriteJson(IReadOnlyList<InstalledModel> models)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartArray();
            foreach (var m in models)
            {
                writer.WriteStartObject();
                writer.WriteString("repository", m.Repository);
                writer.WriteString("file", m.File);
                if (m.Alias is not null)
                {
                    writer.WriteString("alias", m.Alias);
                }
                writer.WriteString("revision", m.Revision);
                writer.WriteString("commit", m.Commit);
                writer.WriteNumber("size", m.Size);
                writer.WriteString("sha256", m.Sha256);
                writer.WriteString("pulledAt", m.PulledAt);
                writer.WriteString("path", m.Path);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        stdout.WriteByte((byte)'\n');
    }
}
