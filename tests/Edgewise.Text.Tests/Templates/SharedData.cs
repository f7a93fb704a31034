namespace Edgewise.Text.Tests.Templates;

/// <summary>Locates the repository root (the folder with Edgewise.slnx) and the shared data beside it.</summary>
internal static class SharedData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string SharedRoot => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string DataPath(string relative) => Path.Combine(SharedRoot, "data", relative);

    public static string TestDataPath(string relative) => Path.Combine(RepoRoot, "tests", "TestData", relative);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Edgewise.slnx"))) return dir.FullName;
        }

        throw new DirectoryNotFoundException($"no Edgewise.slnx above {AppContext.BaseDirectory}");
    }
}
