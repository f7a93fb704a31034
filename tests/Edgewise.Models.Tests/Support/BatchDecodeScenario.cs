namespace Edgewise.Models.Tests.Support;

/// <summary>The batched-decode walk every architecture takes: growing batches over sequences at different positions.</summary>
internal static class BatchDecodeScenario
{
    /// <summary>Prompt lengths: short, past a 16-token window, far past it (rings wrap), and in between.</summary>
    public static int[] PromptLengths { get; } = [3, 17, 40, 9, 26];

    /// <summary>
    /// B = 1, 2, 3, 5 (three consecutive steps each, subsets in scrambled order), then the sequences are used alone
    /// (plain Forward of a few tokens, rollback) and batched again in another combination.
    /// </summary>
    public static void Run(BatchDecodeHarness h)
    {
        for (int step = 0; step < 3; step++) h.Step(2);
        for (int step = 0; step < 3; step++) h.Step(0, 3);
        for (int step = 0; step < 3; step++) h.Step(4, 1, 2);
        for (int step = 0; step < 3; step++) h.Step(3, 0, 4, 2, 1);
        h.ForwardBoth(1, 3);
        h.Step(1, 3);
        h.TruncateBoth(4, h.Position(4) - 2);
        h.TruncateBoth(0, 2);
        for (int step = 0; step < 2; step++) h.Step(4, 0, 1);
        h.ForwardBoth(4, 1);
    }
}
