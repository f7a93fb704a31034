using System.CommandLine;
using System.Text;
using System.Text.Json;
using Edgewise.Cli.Infrastructure;
using Edgewise.Engine.Sessions;
using Edgewise.Hub;
using Edgewise.Text.Chat;

namespace Edgewise.Cli.Commands;

/// <summary><c>edgewise run MODEL</c>: an interactive chat with streamed answers.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "Chat with a model in the terminal (streamed; /help lists the commands).");
        var model = new ModelOptions();
        var generation = new GenerationCliOptions();
        var verbose = new Option<bool>("--verbose") { Description = "Print token counts and speeds after each answer." };
        model.AddTo(command);
        generation.AddTo(command);
        command.Options.Add(verbose);
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                (EdgewiseModel loaded, _) = await model.LoadAsync(parse, Console.Error, cancellationToken).ConfigureAwait(false);
                using (loaded)
                using (ChatSession session = loaded.CreateSession(parse.GetValue(model.Context)))
                {
                    var repl = new ChatRepl(session, generation.Build(parse), parse.GetValue(generation.System), Console.In, new ConsoleChatOutput(), parse.GetValue(verbose));
                    return await repl.RunAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or HubException or ContextOverflowException or InvalidDataException or NotSupportedException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 1;
            }
        });
        return command;
    }
}

/// <summary>Where the chat loop writes: answer text, dimmed thoughts, notices.</summary>
internal interface IChatOutput
{
    void Prompt(string text);

    void Answer(string delta);

    void Thought(string delta);

    void Notice(string text);
}

/// <summary>
/// The read-eval-print loop of <c>edgewise run</c>, independent of the console so tests can drive it with text.
/// Input: one message per line; a line ending in <c>\</c> continues on the next; <c>"""</c> opens and closes a block.
/// </summary>
internal sealed class ChatRepl
{
    private const string Help = """
        Commands:
          /clear          forget the conversation (keeps the system prompt)
          /system TEXT    set the system prompt and start over
          /save FILE      write the conversation as JSON
          /bye            leave (also /exit, Ctrl+D)
          /help           this list
        End a line with \ to continue it, or wrap a message in triple quotes.
        """;

    private readonly ChatSession _session;
    private readonly GenerationOptions _options;
    private readonly TextReader _input;
    private readonly IChatOutput _output;
    private readonly bool _verbose;
    private readonly List<ChatMessage> _messages = [];
    private string? _system;

    public ChatRepl(ChatSession session, GenerationOptions options, string? system, TextReader input, IChatOutput output, bool verbose)
    {
        _session = session;
        _options = options;
        _system = system;
        _input = input;
        _output = output;
        _verbose = verbose;
        Clear();
    }

    public IReadOnlyList<ChatMessage> Messages => _messages;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        _output.Notice("Type a message, /help for commands, /bye to leave.");
        while (!cancellationToken.IsCancellationRequested)
        {
            string? message = ReadMessage();
            if (message is null) return 0;                     // end of input
            if (message.Length == 0) continue;
            if (message.StartsWith('/'))
            {
                if (!Command(message)) return 0;
                continue;
            }
            _messages.Add(ChatMessage.User(message));
            await AnswerAsync(cancellationToken).ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>Reads one message, joining continued lines and triple-quoted blocks; null at end of input.</summary>
    internal string? ReadMessage()
    {
        _output.Prompt(">>> ");
        string? line = _input.ReadLine();
        if (line is null) return null;
        var text = new StringBuilder();
        if (line.TrimStart().StartsWith("\"\"\"", StringComparison.Ordinal))
        {
            string rest = line.TrimStart()[3..];
            while (true)
            {
                int close = rest.IndexOf("\"\"\"", StringComparison.Ordinal);
                if (close >= 0)
                {
                    text.Append(rest, 0, close);
                    return text.ToString().Trim();
                }
                text.Append(rest).Append('\n');
                _output.Prompt("... ");
                rest = _input.ReadLine() ?? "\"\"\"";
            }
        }
        while (line.EndsWith('\\'))
        {
            text.Append(line, 0, line.Length - 1).Append('\n');
            _output.Prompt("... ");
            line = _input.ReadLine() ?? "";
        }
        text.Append(line);
        return text.ToString().Trim();
    }

    /// <summary>Runs a slash command; false means leave.</summary>
    private bool Command(string line)
    {
        int space = line.IndexOf(' ');
        string name = space < 0 ? line : line[..space];
        string argument = space < 0 ? "" : line[(space + 1)..].Trim();
        switch (name)
        {
            case "/bye" or "/exit" or "/quit":
                return false;
            case "/clear":
                Clear();
                _output.Notice("Conversation cleared.");
                break;
            case "/system":
                _system = argument.Length == 0 ? null : argument;
                Clear();
                _output.Notice(_system is null ? "System prompt removed; conversation cleared." : "System prompt set; conversation cleared.");
                break;
            case "/save":
                if (argument.Length == 0)
                {
                    _output.Notice("Usage: /save FILE");
                    break;
                }
                File.WriteAllText(argument, ToJson(_messages));
                _output.Notice($"Saved {_messages.Count} messages to {argument}.");
                break;
            case "/help" or "/?":
                _output.Notice(Help);
                break;
            default:
                _output.Notice($"Unknown command {name}. /help lists the commands.");
                break;
        }
        return true;
    }

    private void Clear()
    {
        _messages.Clear();
        if (_system is not null) _messages.Add(ChatMessage.System(_system));
    }

    private async Task AnswerAsync(CancellationToken cancellationToken)
    {
        var answer = new StringBuilder();
        var reasoning = new StringBuilder();
        GenerationUsage? usage = null;
        try
        {
            await foreach (GenerationUpdate update in _session.GenerateAsync(_messages, _options, cancellationToken).ConfigureAwait(false))
            {
                switch (update.Kind)
                {
                    case GenerationUpdateKind.Text:
                        _output.Answer(answer.Length == 0 ? update.Text.TrimStart() : update.Text);
                        answer.Append(update.Text);
                        break;
                    case GenerationUpdateKind.Reasoning:
                        _output.Thought(update.Text);
                        reasoning.Append(update.Text);
                        break;
                    case GenerationUpdateKind.Finished:
                        usage = update.Usage;
                        break;
                }
            }
        }
        catch (ContextOverflowException ex)
        {
            _messages.RemoveAt(_messages.Count - 1);
            _output.Notice(ex.Message + " Use /clear to start over.");
            return;
        }
        _output.Answer("\n");
        _messages.Add(ChatMessage.Assistant(answer.ToString().Trim()) with { ReasoningContent = reasoning.Length > 0 ? reasoning.ToString() : null });
        if (_verbose && usage is not null)
        {
            _output.Notice($"{usage.PromptTokens} prompt tokens ({usage.CachedTokens} cached, {usage.PrefillTokensPerSecond:F1} tok/s), " +
                $"{usage.CompletionTokens} generated ({usage.DecodeTokensPerSecond:F1} tok/s), {usage.FinishReason.ToString().ToLowerInvariant()}");
        }
    }

    internal static string ToJson(IReadOnlyList<ChatMessage> messages)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartArray();
            foreach (ChatMessage m in messages)
            {
                json.WriteStartObject();
                json.WriteString("role", m.Role.ToString().ToLowerInvariant());
                json.WriteString("content", m.Content ?? "");
                if (m.ReasoningContent is not null) json.WriteString("reasoning_content", m.ReasoningContent);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}

/// <summary>The terminal: answer text as it streams, thoughts dimmed (plain when output is redirected).</summary>
internal sealed class ConsoleChatOutput : IChatOutput
{
    private readonly bool _ansi = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;

    public void Prompt(string text)
    {
        Console.Out.Write(text);
        Console.Out.Flush();
    }

    public void Answer(string delta)
    {
        Console.Out.Write(delta);
        Console.Out.Flush();
    }

    public void Thought(string delta)
    {
        Console.Out.Write(_ansi ? "\e[2m" + delta + "\e[22m" : delta);
        Console.Out.Flush();
    }

    public void Notice(string text) => Console.Out.WriteLine(_ansi ? "\e[2m" + text + "\e[22m" : text);
}
