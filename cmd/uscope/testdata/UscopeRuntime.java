// UscopeRuntime: the JVM workload of uscope's language tools (calls, gc,
// threads, objnew), run with -XX:+ExtendedDTraceProbes. It prints "ready",
// waits for a line on stdin (the tools are attached by then), then:
// calls step() 5 times and String.indexOf 5 times, starts and joins the
// threads uscope-a and uscope-b,
// allocates 300 Blob objects (kept alive in an array), asks for 2 full
// collections with System.gc(), prints "done" and exits.
import java.io.BufferedReader;
import java.io.InputStreamReader;

public class UscopeRuntime {
    static class Blob {
        long a, b;
    }

    static Blob[] kept = new Blob[300];

    static int step(int n) {
        return n + 1;
    }

    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in)).readLine();
        int sum = 0;
        for (int i = 0; i < 5; i++) {
            sum += step(i);
        }
        for (int i = 0; i < 5; i++) {
            sum += "uscope-a".indexOf('-') - 6;
        }
        for (String name : new String[] {"uscope-a", "uscope-b"}) {
            Thread t = new Thread(() -> step(0), name);
            t.start();
            t.join();
        }
        for (int i = 0; i < kept.length; i++) {
            kept[i] = new Blob();
        }
        System.gc();
        System.gc();
        System.out.println("done " + sum);
        System.out.flush();
    }
}
