using Edgewise.Engine.Scheduling;
using Edgewise.Engine.Sessions;
using Edgewise.Engine.Tests.Sessions;
using Edgewise.Models.Common;
using Xunit;

namespace Edgewise.Engine.Tests.Scheduling;

public sealed class BatchingModelTests : IClassFixture<SyntheticModel>
{
    private const int Vocab = RecordingModel.Vocabulary;

    private readonly EdgewiseModel _synthetic;

    public BatchingModelTests(SyntheticModel synthetic) => _synthetic = synthetic.Model;

    /// <summary>
    /// A decoder as ChatSession runs one: prefill a prompt, then feed back the argmax of each step's logits. Returns
    /// every token fed and checks each step's logits against the sequence's expected values on the way.
    /// </summary>
    private static List<int> Decode(IModelState state, int seed, int promptLength, int steps)
    {
        var tokens = new List<int>();
        for (int i = 0; i < promptLength; i++) tokens.Add((seed * 7 + i) % Vocab);
        var logits = new float[Vocab];
        var expected = new float[Vocab];
        state.Forward(tokens.ToArray(), logits);
        for (int step = 0; step < steps; step++)
        {
            RecordingModel.Expected(tokens.ToArray(), expected);
            Assert.Equal(expected, logits);
            int next = 0;
            for (int i = 1; i < Vocab; i++)
            {
                if (logits[i] > logits[next]) next = i;
            }
            tokens.Add(next);
            state.Forward([next], logits);
        }
        RecordingModel.Expected(tokens.ToArray(), expected);
        Assert.Equal(expected, logits);
        return tokens;
    }

    [Fact]
    public void FourConcurrentDecoders_ShareBatches_AndGetTheirOwnRows()
    {
        var fake = new RecordingModel(maxBatch: 4, passTime: TimeSpan.FromMilliseconds(2));
        using var scheduler = new BatchingModel(fake);
        var results = new List<int>[4];
        var threads = new Thread[4];
        for (int t = 0; t < threads.Length; t++)
        {
            int client = t;
            threads[t] = new Thread(() =>
            {
                using IModelState state = scheduler.CreateState(256);
                results[client] = Decode(state, client, promptLength: 5, steps: 40);
            });
            threads[t].Start();
        }
        foreach (Thread thread in threads) thread.Join();

        // The same decoders one after another, straight on the fake: the tokens must agree.
        var direct = new RecordingModel(maxBatch: 4, passTime: TimeSpan.Zero);
        for (int t = 0; t < 4; t++)
        {
            using IModelState state = direct.CreateState(256);
            Assert.Equal(Decode(state, t, promptLength: 5, steps: 40), results[t]);
        }

        Assert.Equal(0, fake.Overlaps);
        BatchingStats stats = scheduler.Stats;
        Assert.Equal(4 * 40, stats.DecodeSteps);
        Assert.Equal(4, stats.LargestBatch);
        // Without gathering, four decoders that split once stay split; with it most passes carry all four.
        Assert.True(stats.MeanBatchSize > 2.5, $"mean batch {stats.MeanBatchSize:F2} over {stats.DecodeBatches} passes");
        foreach (RecordingModel.Pass pass in fake.Passes.Where(p => p.Kind == "batch"))
        {
            Assert.Equal(pass.Size, pass.States.Distinct().Count());
        }
    }

    [Fact]
    public void BatchedSteps_AllocateNothing_OnRunnersOrWaiters()
    {
        var fake = new RecordingModel(maxBatch: 4, passTime: TimeSpan.FromMilliseconds(1), record: false);
        using var scheduler = new BatchingModel(fake);
        var allocated = new long[3];
        var threads = new Thread[3];
        for (int t = 0; t < threads.Length; t++)
        {
            int client = t;
            threads[t] = new Thread(() =>
            {
                using IModelState state = scheduler.CreateState(512);
                var logits = new float[Vocab];
                int[] token = [client];
                state.Forward([client, 1], logits);
                for (int i = 0; i < 40; i++) state.Forward(token, logits);   // warm: JIT, row buffers, the batch rows
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 100; i++) state.Forward(token, logits);
                allocated[client] = GC.GetAllocatedBytesForCurrentThread() - before;
            });
            threads[t].Start();
        }
        foreach (Thread thread in threads) thread.Join();
        Assert.True(scheduler.Stats.MeanBatchSize > 1.5, $"mean batch {scheduler.Stats.MeanBatchSize:F2}");
        Assert.All(allocated, bytes => Assert.True(bytes == 0, $"{bytes} bytes over 100 steps"));
    }

    [Fact]
    public void ModelWithoutBatching_GetsOneStepPerPass_NeverOverlapping()
    {
        var fake = new RecordingModel(maxBatch: 1, passTime: TimeSpan.FromMilliseconds(1));
        using var scheduler = new BatchingModel(fake);
        Parallel.For(0, 3, new ParallelOptions { MaxDegreeOfParallelism = 3 }, client =>
        {
            using IModelState state = scheduler.CreateState(128);
            Decode(state, client, promptLength: 3, steps: 20);
        });
        Assert.Equal(0, fake.Overlaps);
        Assert.Equal(60, scheduler.Stats.DecodeSteps);
        Assert.Equal(1, scheduler.Stats.LargestBatch);
        Assert.DoesNotContain(fake.Passes, p => p.Kind == "batch");
    }

    [Fact]
    public void LongPrompt_IsCutIntoChunks_ThatAlternateWithWaitingDecodeSteps()
    {
        var fake = new RecordingModel(maxBatch: 4, passTime: TimeSpan.FromMilliseconds(2));
        using var scheduler = new BatchingModel(fake);
        using var stop = new ManualResetEventSlim();
        var decoders = new Thread[2];
        for (int t = 0; t < decoders.Length; t++)
        {
            int client = t;
            decoders[t] = new Thread(() =>
            {
                using IModelState state = scheduler.CreateState(4096);
                var logits = new float[Vocab];
                state.Forward([client, 1, 2], logits);
                while (!stop.IsSet) state.Forward([client], logits);
            });
            decoders[t].Start();
        }
        SpinWait.SpinUntil(() => scheduler.Stats.DecodeSteps > 10, TimeSpan.FromSeconds(10));

        int[] prompt = Enumerable.Range(0, 10 * BatchingModel.PrefillChunk + 5).Select(i => i % Vocab).ToArray();
        using IModelState longState = scheduler.CreateState(4096);
        var last = new float[Vocab];
        longState.Forward(prompt, last);
        stop.Set();
        foreach (Thread thread in decoders) thread.Join();

        var expected = new float[Vocab];
        RecordingModel.Expected(prompt, expected);
        Assert.Equal(expected, last);
        Assert.Equal(0, fake.Overlaps);

        RecordingModel.Pass[] passes = [.. fake.Passes];
        int[] chunks = Enumerable.Range(0, passes.Length).Where(i => passes[i].Kind == "forward" && passes[i].Size > 3).ToArray();
        Assert.Equal([64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 5], chunks.Select(i => passes[i].Size));
        // Decoders wait behind every chunk and go first after it: a decode pass sits between consecutive chunks.
        // (A decoder still sampling when a chunk ends may miss one gap on a busy machine; most gaps must hold one.)
        int gapsWithDecode = 0;
        for (int c = 1; c < chunks.Length; c++)
        {
            if (passes[(chunks[c - 1] + 1)..chunks[c]].Any(p => p.Kind == "batch" || p.Size == 1)) gapsWithDecode++;
        }
        Assert.True(gapsWithDecode >= chunks.Length - 3, $"{gapsWithDecode} of {chunks.Length - 1} gaps between prompt chunks had a decode step");
    }

    [Fact]
    public void ForwardAll_IsChunked_AndEqualsTheUnscheduledRows()
    {
        var fake = new RecordingModel(maxBatch: 4, passTime: TimeSpan.Zero);
        using var scheduler = new BatchingModel(fake);
        int[] tokens = Enumerable.Range(0, 150).Select(i => (i * 5) % Vocab).ToArray();
        var rows = new float[tokens.Length * Vocab];
        using (IModelState state = scheduler.CreateState(512)) state.ForwardAll(tokens, rows);

        var expected = new float[Vocab];
        for (int i = 0; i < tokens.Length; i++)
        {
            RecordingModel.Expected(tokens.AsSpan(0, i + 1), expected);
            Assert.Equal(expected, rows.AsSpan(i * Vocab, Vocab).ToArray());
        }
        Assert.Equal([64, 64, 22], fake.Passes.Select(p => p.Size));
    }

    [Fact]
    public void FullState_FailsAlone_AndTheSchedulerKeepsServing()
    {
        var fake = new RecordingModel(maxBatch: 4, passTime: TimeSpan.FromMilliseconds(1));
        using var scheduler = new BatchingModel(fake);
        using IModelState full = scheduler.CreateState(4);
        var logits = new float[Vocab];
        full.Forward([1, 2, 3, 4], logits);
        Assert.Throws<InvalidOperationException>(() => full.Forward([5], logits));

        Parallel.For(0, 2, client =>
        {
            using IModelState state = scheduler.CreateState(64);
            Decode(state, client, promptLength: 2, steps: 10);
        });
        Assert.Equal(0, fake.Overlaps);
    }

    /// <summary>
    /// The real synthetic Gemma 4 through the scheduler, three sessions decoding on their own threads: every step's
    /// logits equal the same tokens run straight on the weights, one state at a time.
    /// </summary>
    [Fact]
    public void RealModel_ConcurrentScheduledDecodes_EqualDirectForward()
    {
        ILanguageModel weights = _synthetic.Weights;
        int vocab = weights.Info.VocabularySize;
        const int Steps = 12;
        int[][] prompts = [[2, 10, 11, 12], [2, 20, 21], [2, 30, 31, 32, 33, 34]];
        var scheduled = new float[prompts.Length][];
        var fed = new List<int>[prompts.Length];
        Parallel.For(0, prompts.Length, new ParallelOptions { MaxDegreeOfParallelism = prompts.Length }, c =>
        {
            using IModelState state = _synthetic.Model.CreateState(64);
            (fed[c], scheduled[c]) = Greedy(state, prompts[c], Steps, vocab);
        });
        for (int c = 0; c < prompts.Length; c++)
        {
            using IModelState direct = weights.CreateState(64);
            var logits = new float[vocab];
            direct.Forward(fed[c].Take(prompts[c].Length).ToArray(), logits);
            var trace = new List<float>();
            foreach (int token in fed[c].Skip(prompts[c].Length))
            {
                trace.AddRange(logits);
                direct.Forward([token], logits);
            }
            trace.AddRange(logits);
            float[] want = [.. trace];
            Assert.Equal(want.Length, scheduled[c].Length);
            for (int i = 0; i < want.Length; i++)
            {
                Assert.True(MathF.Abs(want[i] - scheduled[c][i]) <= 1e-3f * (1 + MathF.Abs(want[i])), $"client {c} value {i}: {scheduled[c][i]} vs direct {want[i]}");
            }
        }
    }

    /// <summary>
    /// Sessions as the server and chat clients run them, on their own threads over one model: their answers equal the
    /// same turns run alone, a session cancelled midway leaves nothing queued, and the others' steps were batched.
    /// </summary>
    [Fact]
    public async Task ConcurrentChatSessions_AnswerAsAlone_AndACancelledOneLeavesTheQueueClean()
    {
        var noStops = _synthetic.StopTokens.ToDictionary(id => id, _ => float.NegativeInfinity);
        GenerationOptions Options(ulong seed) => new() { Sampling = new Edgewise.Engine.Sampling.SamplingOptions { Seed = seed, TopK = 20, LogitBias = noStops }, MaxTokens = 24 };
        string[] questions = ["first question", "a second, longer question about the sea", "third"];
        var alone = new string[questions.Length];
        for (int i = 0; i < questions.Length; i++)
        {
            using ChatSession session = _synthetic.CreateSession(256);
            alone[i] = (await TurnResult.Of(session.GenerateAsync([Edgewise.Text.Chat.ChatMessage.User(questions[i])], Options((ulong)i)))).Text;
        }

        // Turns run synchronously on pool threads (as the server's do); on two cores the pool would otherwise run
        // them one after another, and there would be nothing to batch. The server raises the minimum the same way.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 8), io);
        long passesBefore = _synthetic.Scheduler.Stats.DecodeBatches, stepsBefore = _synthetic.Scheduler.Stats.DecodeSteps;
        using var cancel = new CancellationTokenSource();
        Task<string>[] together = new Task<string>[questions.Length];
        for (int i = 0; i < questions.Length; i++)
        {
            int q = i;
            together[q] = Task.Run(async () =>
            {
                using ChatSession session = _synthetic.CreateSession(256);
                return (await TurnResult.Of(session.GenerateAsync([Edgewise.Text.Chat.ChatMessage.User(questions[q])], Options((ulong)q)))).Text;
            });
        }
        Task cancelled = Task.Run(async () =>
        {
            using ChatSession session = _synthetic.CreateSession(256);
            int seen = 0;
            await foreach (GenerationUpdate _ in session.GenerateAsync([Edgewise.Text.Chat.ChatMessage.User("hang up on me")], Options(9), cancel.Token))
            {
                if (++seen == 4) cancel.Cancel();
            }
        });
        Assert.Equal(alone, await Task.WhenAll(together));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        BatchingStats stats = _synthetic.Scheduler.Stats;
        Assert.Equal(0, stats.Waiting);
        Assert.True(stats.DecodeSteps - stepsBefore >= 3 * 23, $"{stats.DecodeSteps - stepsBefore} steps");
        Assert.True(stats.DecodeBatches - passesBefore < stats.DecodeSteps - stepsBefore,
            $"{stats.DecodeSteps - stepsBefore} steps took {stats.DecodeBatches - passesBefore} passes: none were batched");
    }

    private static (List<int> Fed, float[] Trace) Greedy(IModelState state, int[] prompt, int steps, int vocab)
    {
        var logits = new float[vocab];
        var fed = new List<int>(prompt);
        var trace = new List<float>();
        state.Forward(prompt, logits);
        for (int s = 0; s < steps; s++)
        {
            trace.AddRange(logits);
            int next = 0;
            for (int i = 1; i < vocab; i++)
            {
                if (logits[i] > logits[next]) next = i;
            }
            fed.Add(next);
            state.Forward([next], logits);
        }
        trace.AddRange(logits);
        return (fed, [.. trace]);
    }
}
