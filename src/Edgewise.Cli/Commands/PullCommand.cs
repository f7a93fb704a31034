using System.CommandLine;
using Edgewise.Cli.Infrastructure;
using Edgewise.Hub;
using Spectre.Console;

namespace Edgewise.Cli.Commands;

internal static class PullCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model")
        {
            Description = $"An alias ({string.Join(", ", ModelAliases.Names)}), hf.co/ORG/REPO[:QUANT], or ORG/REPO with --file.",
        };
        var file = new Option<string?>("--file") { Description = "Exact file inside the repository (e.g. gemma-3n-E4B-it-Q8_0.gguf)." };
        var revision = new Option<string?>("--revision") { Description = "Branch, tag or commit to download from (default: main)." };
        var offline = new Option<bool>("--offline") { Description = "Never touch the network: only report whether the model is already in the local store." };

        var command = new Command("pull", "Download a model from the Hugging Face hub into the local store (resumable, sha256-verified).");
        command.Arguments.Add(model);
        command.Options.Add(file);
        command.Options.Add(revision);
        command.Options.Add(offline);
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(model)!, parse.GetValue(file), parse.GetValue(revision), parse.GetValue(offline), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string text, string? file, string? revision, bool offline, CancellationToken cancellationToken)
    {
        ModelReference reference;
        try
        {
            reference = ModelReference.Parse(text, file, revision);
        }
        catch (FormatException ex)
        {
            return HubConsole.Fail(ex.Message, 2);
        }

        try
        {
            if (offline)
            {
                var local = new ModelStore(hub: null).FindLocal(reference) ?? throw new HubException(HubErrorKind.NotAvailableOffline,
                    $"Model '{reference.Text}' is not in the local store ({ModelStoreOptions.DefaultRoot()}) and --offline forbids downloading it. Run `{reference.PullCommand}` without --offline.");
                Console.WriteLine(local.Path);
                return 0;
            }

            using var hub = new HubClient(HubClientOptions.FromEnvironment());
            var store = new ModelStore(hub);
            var installed = await HubConsole.WithProgressAsync(reference.Text, progress => store.PullAsync(reference, progress, cancellationToken)).ConfigureAwait(false);
            HubConsole.Done($"{installed.Repository}/{installed.File} ({FormatSize(installed.Size)}, commit {installed.Commit[..Math.Min(12, installed.Commit.Length)]})");
            // Now, while the user waits for the pull anyway, not in the background of the first chat.
            RepackCacheStep.Prepare(installed.Path, ModelLoadArguments.RepackCacheDirectory, Environment.ProcessorCount, Console.Error);
            Console.WriteLine(installed.Path);
            return 0;
        }
        catch (HubException ex)
        {
            return HubConsole.Fail(ex.Message, 1);
        }
        catch (OperationCanceledException)
        {
            return HubConsole.Fail($"Interrupted. The partial download is kept; run `{reference.PullCommand}` again to resume.", 130);
        }
    }

    internal static string FormatSize(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}

/// <summary>Console rendering shared by the hub commands: a Spectre progress bar, or plain lines when redirected.</summary>
internal static class HubConsole
{
    public static int Fail(string message, int exitCode)
    {
        if (Console.IsErrorRedirected)
        {
            Console.Error.WriteLine("error: " + message);
        }
        else
        {
            AnsiConsole.MarkupLine("[red]error:[/] " + Markup.Escape(message));
        }
        return exitCode;
    }

    public static void Done(string message)
    {
        if (Console.IsOutputRedirected)
        {
            Console.Error.WriteLine("pulled " + message);
        }
        else
        {
            AnsiConsole.MarkupLine("[green]pulled[/] " + Markup.Escape(message));
        }
    }

    /// <summary>Runs <paramref name="work"/> with a progress sink that draws a bar (rate, ETA) or prints a line every few seconds.</summary>
    public static async Task<T> WithProgressAsync<T>(string title, Func<IProgress<DownloadProgress>, Task<T>> work)
    {
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            return await work(new PlainProgress()).ConfigureAwait(false);
        }
        return await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn())
            .StartAsync(async context =>
            {
                var sink = new BarProgress(context, title);
                return await work(sink).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }

    // Reports arrive on the download's thread; both sinks are synchronous so the last report is never lost.
    // Rate and ETA come from the downloader (which leaves resumed bytes out), not from Spectre's own speed
    // column, which would count a resumed prefix as one instant burst.
    private sealed class BarProgress(ProgressContext context, string title) : IProgress<DownloadProgress>
    {
        private ProgressTask? _task;

        public void Report(DownloadProgress value)
        {
            _task ??= context.AddTask(Markup.Escape(title), maxValue: Math.Max(1, value.TotalBytes));
            _task.Value = value.BytesDone;
            _task.Description = Markup.Escape($"{title}  {Rate(value)}");
        }
    }

    internal static string Rate(DownloadProgress value) =>
        value.BytesDone >= value.TotalBytes ? "done"
        : $"{PullCommand.FormatSize((long)value.BytesPerSecond)}/s" + (value.Eta is { } e ? $", ETA {(int)e.TotalHours}:{e:mm\\:ss}" : "");

    private sealed class PlainProgress : IProgress<DownloadProgress>
    {
        private DateTime _last = DateTime.MinValue;

        public void Report(DownloadProgress value)
        {
            var done = value.BytesDone >= value.TotalBytes;
            if (!done && DateTime.UtcNow - _last < TimeSpan.FromSeconds(5))
            {
                return;
            }
            _last = DateTime.UtcNow;
            var percent = value.TotalBytes > 0 ? 100.0 * value.BytesDone / value.TotalBytes : 100;
            Console.Error.WriteLine($"{value.File}: {PullCommand.FormatSize(value.BytesDone)} / {PullCommand.FormatSize(value.TotalBytes)} ({percent:0.0}%), {Rate(value)}");
        }
    }
}
