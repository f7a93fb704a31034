using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Models.Synthesis;
using Edgewise.Text.Chat;
using Edgewise.Text.ToolCalls;
using Xunit;

namespace Edgewise.Engine.Tests.Sessions;

/// <summary>The same session path on the other family: Gemma 3n's template, prompted-JSON tool dialect, prefix reuse.</summary>
public sealed class Gemma3nSessionTests
{
    [Fact]
    public async Task Gemma3n_ChatsWithItsOwnTemplateAndDialect_AndReusesThePrefix()
    {
        string dir = Directory.CreateTempSubdirectory("edgewise-3n-").FullName;
        try
        {
            string path = Path.Combine(dir, "tiny3n.gguf");
            Gemma3nGgufSynthesizer.Write(Gemma3nSynthSpec.Preset("tiny") with { Vocab = 512 }, path);
            using EdgewiseModel model = EdgewiseModel.Load(path, new EngineLoadOptions { Threads = 1 });
            Assert.Equal("gemma3n", model.Info.Architecture);
            Assert.IsType<JsonFenceToolCallParser>(model.ToolCallParser);

            using ChatSession session = model.CreateSession(256);
            List<ChatMessage> messages = [ChatMessage.System("be brief"), ChatMessage.User("hi")];
            Assert.Contains("<start_of_turn>user", session.RenderPrompt(messages), StringComparison.Ordinal);
            var options = new GenerationOptions { Sampling = SamplingOptions.Greedy, MaxTokens = 6 };
            TurnResult first = await TurnResult.Of(session.GenerateAsync(messages, options));
            TurnResult again = await TurnResult.Of(session.GenerateAsync(messages, options));
            Assert.InRange(first.Usage.CompletionTokens, 1, 6);
            Assert.Equal(first.Text, again.Text);
            Assert.Equal(first.Usage.PromptTokens - 1, again.Usage.CachedTokens);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
