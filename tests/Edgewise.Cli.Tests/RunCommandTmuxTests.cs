using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Cli.Tests;

/// <summary>
/// <c>edgewise run</c> driven as a person drives it: in a real terminal (tmux), typing a message, watching the answer
/// stream in, then leaving with /bye. Needs tmux (Debian/Ubuntu: <c>apt-get install -y tmux</c>).
/// </summary>
public sealed partial class RunCommandTmuxTests(SyntheticModelFile model, ITestOutputHelper log) : IClassFixture<SyntheticModelFile>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public void Run_TypeAMessage_SeeTheAnswer_ByeExitsWithZero()
    {
        RequireTmux();
        string session = "edgewise-run-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..6];
        string cli = Path.Combine(AppContext.BaseDirectory, "edgewise.dll");
        Assert.True(File.Exists(cli), $"the CLI should be built next to the tests: {cli}");
        string command = $"dotnet '{cli}' run '{model.Path}' --offline --threads 2 --temperature 0 --max-tokens 12 --verbose --system 'Be brief.'; " +
                         "echo \"[exit $?]\"; sleep 120";
        Tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", command);
        try
        {
            string screen = WaitFor(session, s => s.Contains(">>> ", StringComparison.Ordinal), "the first prompt");
            Assert.Contains("/help", screen, StringComparison.Ordinal);

            Tmux("send-keys", "-t", session, "-l", "hello there");
            Tmux("send-keys", "-t", session, "Enter");
            screen = WaitFor(session, s => PromptCount(s) >= 2 && s.Contains("generated", StringComparison.Ordinal), "the answer and the next prompt");
            // The line after the message holds the streamed answer, then the usage line of --verbose.
            Match usage = UsageLine().Match(screen);
            Assert.True(usage.Success, screen);
            int generated = int.Parse(usage.Groups["generated"].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(generated, 1, 12);
            string between = screen[(screen.IndexOf("hello there", StringComparison.Ordinal) + "hello there".Length)..usage.Index];
            Assert.True(generated == 1 || between.Trim().Length > 0, $"no answer text between the message and the usage line:\n{screen}");

            Tmux("send-keys", "-t", session, "-l", "/bye");
            Tmux("send-keys", "-t", session, "Enter");
            screen = WaitFor(session, s => s.Contains("[exit ", StringComparison.Ordinal), "the process to exit");
            Assert.Contains("[exit 0]", screen, StringComparison.Ordinal);
        }
        finally
        {
            try
            {
                Tmux("kill-session", "-t", session);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private static int PromptCount(string screen) => Regex.Count(screen, ">>> ");

    [GeneratedRegex(@"(?<prompt>\d+) prompt tokens .*?, (?<generated>\d+) generated")]
    private static partial Regex UsageLine();

    private string WaitFor(string session, Func<string, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        string screen = "";
        while (clock.Elapsed < Patience)
        {
            screen = Tmux("capture-pane", "-p", "-J", "-t", session, "-S", "-200");
            if (condition(screen)) return screen;
            Thread.Sleep(200);
        }
        log.WriteLine(screen);
        throw new TimeoutException($"waited {Patience.TotalSeconds} s for {what}; the terminal shows:\n{screen}");
    }

    private static void RequireTmux()
    {
        try
        {
            Tmux("-V");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Assert.Fail("tmux is needed to drive `edgewise run` in a real terminal but is not installed. Install it: apt-get install -y tmux");
        }
    }

    private static string Tmux(params string[] args)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) start.ArgumentList.Add(a);
        using Process p = Process.Start(start) ?? throw new InvalidOperationException("tmux did not start");
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)} failed ({p.ExitCode}): {error}");
        return output;
    }
}
