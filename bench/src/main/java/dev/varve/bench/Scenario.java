package dev.varve.bench;

import java.util.List;

/** A group of measurements that share their setup; names are the figure names it produces. */
interface Scenario {
    List<String> names();

    /** Its share of the run's time budget, relative to the other scenarios'. */
    int weight();

    void run(Bench b) throws Exception;
}
