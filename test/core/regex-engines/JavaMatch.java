import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads lines "<base64 pattern>" or "<base64 pattern>\t<base64 value>" and prints, per line, what
 * java.util.regex says: "E <error>", "ok" (the pattern compiles), or two digits for find() and
 * matches(), since which of the two SSM's service uses is not published.
 */
public class JavaMatch {
  public static void main(String[] args) throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] fields = line.split("\t", -1);
      Pattern pattern;
      try {
        pattern = Pattern.compile(decode(fields[0]));
      } catch (PatternSyntaxException error) {
        out.println("E " + error.getDescription());
        continue;
      }
      if (fields.length == 1) {
        out.println("ok");
        continue;
      }
      String value = decode(fields[1]);
      try {
        out.println((pattern.matcher(value).find() ? "1" : "0") + (pattern.matcher(value).matches() ? "1" : "0"));
      } catch (StackOverflowError error) {
        // java.util.regex recurses once per repetition of a group: a value far over its length bound.
        out.println("E stack overflow");
      }
    }
    out.flush();
  }

  private static String decode(String text) {
    return new String(Base64.getDecoder().decode(text), StandardCharsets.UTF_8);
  }
}
