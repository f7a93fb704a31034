using System.Runtime.CompilerServices;

// Tests compare each fast kernel with its scalar twin through internal entry points; the benchmarks time both.
[assembly: InternalsVisibleTo("Edgewise.Core.Tests")]
[assembly: InternalsVisibleTo("Edgewise.Bench")]
