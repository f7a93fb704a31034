using System.ClientModel;
using System.Text.Json;
using Edgewise.Engine.Sessions;
using Edgewise.Models.Common;
using Edgewise.Server.Tests.Support;
using OpenAI;
using OpenAI.Chat;
using EngineMessage = Edgewise.Text.Chat.ChatMessage;
using EngineRole = Edgewise.Text.Chat.ChatRole;

namespace Edgewise.Server.Tests.RealModel;

/// <summary>
/// Log-probabilities from the real engine through the OpenAI SDK, checked against an independent recomputation: the
/// same prompt run straight through the weights on a second state, each step's log-softmax worked out here.
/// </summary>
public sealed class EngineLogprobsTests : IClassFixture<SyntheticGemma4File>
{
    private const int MaxTokens = 10;
    private const int Top = 4;

    private readonly SyntheticGemma4File _file;

    public EngineLogprobsTests(SyntheticGemma4File file) => _file = file;

    [Fact]
    public async Task ChatLogprobs_EqualTheModelsLogSoftmax_PlainAndStreamed()
    {
        using EdgewiseModel reference = EdgewiseModel.Load(_file.Path, new EngineLoadOptions { Threads = 1 });
        // Random weights pick control tokens too; bias every piece that could be markup out of the pick, so each sampled
        // token is plain text whose log-prob the server must report (the bias changes the pick, never the reported values).
        var banned = new Dictionary<int, int>();
        for (int id = 0; id < reference.Tokenizer.VocabularySize; id++)
        {
            string piece = reference.Tokenizer.TokenPiece(id);
            if (reference.Tokenizer.IsSpecial(id) || piece.Contains('<') || piece.Contains('|') || piece.Contains('>') || reference.IsStopToken(id)) banned[id] = -100;
        }
        const string Question = "Count the colours of the sea";
        Expected[] expected = Recompute(reference, Question, banned);

        var (server, backend) = await _file.StartServerAsync();
        await using (server)
        using (backend)
        {
            var client = new ChatClient("tiny-gemma4", new ApiKeyCredential("sk-unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") });
            var options = new ChatCompletionOptions { Temperature = 0f, MaxOutputTokenCount = MaxTokens, IncludeLogProbabilities = true, TopLogProbabilityCount = Top };
            foreach ((int id, int bias) in banned) options.LogitBiases[id] = bias;

            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage(Question)], options);
            Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
            Check(expected, completion.ContentTokenLogProbabilities);
            Assert.Equal(completion.Content[0].Text, string.Concat(completion.ContentTokenLogProbabilities.Select(t => t.Token)));

            var streamed = new List<ChatTokenLogProbabilityDetails>();
            int chunksWithText = 0;
            await foreach (StreamingChatCompletionUpdate u in client.CompleteChatStreamingAsync([new UserChatMessage(Question)], options))
            {
                streamed.AddRange(u.ContentTokenLogProbabilities);
                if (u.ContentUpdate.Count > 0)
                {
                    chunksWithText++;
                    // Each chunk carries the entries of the tokens whose text it brings.
                    Assert.Equal(u.ContentUpdate[0].Text, string.Concat(u.ContentTokenLogProbabilities.Select(t => t.Token)));
                }
            }
            Assert.True(chunksWithText > 1);
            Check(expected, streamed);
        }
    }

    [Fact]
    public async Task LegacyCompletionLogprobs_ListEveryTokenWithItsAlternatives()
    {
        var (server, backend) = await _file.StartServerAsync();
        await using (server)
        using (backend)
        {
            using HttpResponseMessage response = await Wire.PostAsync(server.Client, "/v1/completions",
                """{"model":"tiny-gemma4","prompt":"The sea is","max_tokens":6,"temperature":0,"logprobs":3}""");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            JsonElement root = await Wire.JsonAsync(response);
            JsonElement logprobs = root.GetProperty("choices")[0].GetProperty("logprobs");
            int completionTokens = root.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
            int count = logprobs.GetProperty("tokens").GetArrayLength();
            // Every sampled token but a closing end-of-turn token has an entry.
            Assert.InRange(count, completionTokens - 1, completionTokens);
            Assert.Equal(count, logprobs.GetProperty("token_logprobs").GetArrayLength());
            for (int i = 0; i < count; i++)
            {
                float value = logprobs.GetProperty("token_logprobs")[i].GetSingle();
                JsonElement alternatives = logprobs.GetProperty("top_logprobs")[i];
                Assert.InRange(alternatives.EnumerateObject().Count(), 1, 3);
                float best = alternatives.EnumerateObject().Max(p => p.Value.GetSingle());
                Assert.True(value <= 0f && value <= best + 1e-5f, $"token {i}: {value} vs best alternative {best}");
            }
        }
    }

    private static void Check(Expected[] expected, IReadOnlyList<ChatTokenLogProbabilityDetails> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            ChatTokenLogProbabilityDetails got = actual[i];
            Assert.Equal(expected[i].Bytes, got.Utf8Bytes!.Value.ToArray());
            Assert.Equal(expected[i].LogProb, got.LogProbability, 3);
            Assert.True(got.LogProbability <= 0f);
            Assert.Equal(Top, got.TopLogProbabilities.Count);
            for (int k = 0; k < Top; k++)
            {
                Assert.Equal(expected[i].TopLogProbs[k], got.TopLogProbabilities[k].LogProbability, 3);
                if (k > 0) Assert.True(got.TopLogProbabilities[k].LogProbability <= got.TopLogProbabilities[k - 1].LogProbability);
            }
            // Probabilities of distinct tokens cannot add up to more than one.
            Assert.True(got.TopLogProbabilities.Sum(t => Math.Exp(t.LogProbability)) <= 1.0 + 1e-4);
        }
    }

    /// <summary>The greedy continuation (bias applied to the pick only) and each step's log-softmax, computed here.</summary>
    private static Expected[] Recompute(EdgewiseModel reference, string question, Dictionary<int, int> bias)
    {
        using ChatSession tokenizerOnly = reference.CreateSession(256);
        int[] prompt = tokenizerOnly.TokenizePrompt([new EngineMessage(EngineRole.User, question)]);
        ILanguageModel weights = reference.Weights;
        int vocab = weights.Info.VocabularySize;
        using IModelState state = weights.CreateState(256);
        var logits = new float[vocab];
        state.Forward(prompt, logits);
        var result = new Expected[MaxTokens];
        for (int step = 0; step < MaxTokens; step++)
        {
            double max = logits.Max();
            double logZ = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
            int pick = Enumerable.Range(0, vocab).MaxBy(i => logits[i] + (bias.TryGetValue(i, out int b) ? b : 0));
            double[] top = [.. logits.Select(l => l - logZ).OrderDescending().Take(Top)];
            result[step] = new Expected(reference.Tokenizer.TokenBytes(pick).ToArray(), (float)(logits[pick] - logZ), top);
            state.Forward([pick], logits);
        }
        return result;
    }

    private sealed record Expected(byte[] Bytes, float LogProb, double[] TopLogProbs);
}
