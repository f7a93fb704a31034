[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Edgewise.Hub.Tests")]
